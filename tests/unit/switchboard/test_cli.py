"""The `switchboard token` commands an operator uses to fill the tenants file, and the
one-line refusal of settings that cannot work."""

import os
import re
import subprocess
import sys
from pathlib import Path

import jwt
from typer.testing import CliRunner

from schemas.tenants import TenantDirectory, token_sha256
from switchboard.cli import app
from switchboard.devstack import DEMO_AUD, write_demo_tenants

runner = CliRunner()


def test_token_new_prints_a_token_once_and_its_sha256_line() -> None:
    result = runner.invoke(app, ["token", "new", "--tenant", "acme-mdm"])
    assert result.exit_code == 0, result.output
    token = re.search(r"shown once, give it to the sender\): (\S+)", result.output)
    digest = re.search(r'token_sha256: "([0-9a-f]{64})"', result.output)
    assert token and digest
    assert token_sha256(token.group(1)) == digest.group(1)
    assert len(token.group(1)) >= 40
    second = runner.invoke(app, ["token", "new", "--tenant", "acme-mdm"])
    assert token.group(1) not in second.output


def test_token_jwt_signs_as_the_app_sender_does(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.yaml"
    demo_token = write_demo_tenants(tenants)
    directory = TenantDirectory.from_yaml(tenants.read_text())
    assert directory.tenant_for_token(demo_token) is not None
    result = runner.invoke(app, ["token", "jwt", "--iss", "ams", "--tenants-file", str(tenants)])
    assert result.exit_code == 0, result.output
    issuer = directory.issuer("ams")
    assert issuer is not None
    claims = jwt.decode(
        result.output.strip(),
        issuer.secrets[0],
        algorithms=["HS256"],
        audience=DEMO_AUD,
        options={"verify_sub": False},  # sub is null, as in the sender's document
    )
    assert claims["sub"] is None
    assert claims["iss"] == "ams" and claims["exp"] - claims["iat"] == 60 and claims["jti"]


SASL_WITHOUT_USER = {
    "SWITCHBOARD_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "SWITCHBOARD_KAFKA_SASL_PASSWORD": "hunter2",
}


def test_gateway_refuses_incomplete_kafka_settings_in_one_line() -> None:
    result = runner.invoke(app, ["gateway"], env=SASL_WITHOUT_USER)
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("switchboard gateway: settings refused: ")
    assert "SWITCHBOARD_KAFKA_SASL_USERNAME" in line and "hunter2" not in line


def test_worker_refuses_incomplete_kafka_settings_in_one_line() -> None:
    # A process of its own: streams.app reads WorkerSettings once, when first imported.
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "worker"],
        env={**os.environ, **SASL_WITHOUT_USER},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("switchboard worker: settings refused: ")
    assert "SWITCHBOARD_KAFKA_SASL_USERNAME" in line and "hunter2" not in line
