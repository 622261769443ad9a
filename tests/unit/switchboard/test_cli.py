"""The `switchboard` command: token commands, --version, help, the one-line refusal of
settings that cannot work and other one-line failures."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
from typer.testing import CliRunner

from schemas.tenants import TenantDirectory, token_sha256
from switchboard import devstack, localkafka
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


def test_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert (result.exit_code, result.output) == (0, f"switchboard {version('switchboard')}\n")


@pytest.mark.parametrize(
    ("command", "settings"),
    [("gateway", "gateway.config:GatewaySettings"), ("worker", "streams.config:WorkerSettings")],
)
def test_help_lists_every_variable_the_command_reads(command: str, settings: str) -> None:
    import importlib

    module, name = settings.split(":")
    fields = getattr(importlib.import_module(module), name).model_fields
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    for field in fields:
        assert f"SWITCHBOARD_{field.upper()}=" in result.output, field


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (
            b'{"eventId": "e", "eventType": "TENANT_REST_URL_CHANGE", "data": {}}',
            "/v1/app-notifications",
        ),
        (b'{"notificationId": "n", "notificationType": "ASSET_COUNT"}', "/v1/notifications"),
        (b"not json", "/v1/notifications"),
    ],
)
def test_send_picks_the_endpoint_from_the_body(body: bytes, path: str) -> None:
    from switchboard.cli import _endpoint_for

    assert _endpoint_for(body) == path


def test_send_to_a_gateway_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    from switchboard.localkafka import free_port

    body = tmp_path / "body.json"
    body.write_text("{}")
    gateway = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["send", str(body), "--token", "t", "--gateway", gateway])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0
    assert result.output.startswith(f"switchboard send: {gateway}/v1/notifications: ")


def test_kafka_status_without_a_cluster_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["kafka", "status", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"no local Kafka cluster in {tmp_path} (start one: switchboard kafka start)"
    )


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


def test_dev_starts_the_worker_without_the_tables_of_an_earlier_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make dev` twice: its Kafka is a new cluster each time, and a worker refuses
    tables written against another cluster (switchboard.devstack)."""
    tables = tmp_path / "worker-data" / "v1" / "tables"
    tables.mkdir(parents=True)
    monkeypatch.setattr(devstack, "DEV_HOME", tmp_path)
    seen: list[bool] = []

    def start(*args: object, **kwargs: object) -> None:
        seen.append((tmp_path / "worker-data").exists())
        raise RuntimeError("stop before Kafka")

    monkeypatch.setattr(localkafka, "start", start)
    with pytest.raises(RuntimeError, match="stop before Kafka"):
        devstack.run_dev_stack(gateway_port=1, web_port=2, kafka_port=3)
    assert seen == [False]


def test_dev_ignores_a_second_signal_while_it_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second Ctrl-C or SIGTERM during the stop would leave the worker and Kafka running."""
    monkeypatch.setattr(devstack, "DEV_HOME", tmp_path)
    monkeypatch.setattr(localkafka, "start", lambda *a, **k: SimpleNamespace(bootstrap="x:1"))

    def spawn(*args: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the worker starts

    during: list[object] = []

    def stop(home: Path) -> None:
        during.extend(signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM))

    monkeypatch.setattr(devstack, "_spawn", spawn)
    monkeypatch.setattr(localkafka, "stop", stop)
    before = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    devstack.run_dev_stack(gateway_port=1, web_port=2, kafka_port=3)
    assert during == [signal.SIG_IGN, signal.SIG_IGN]
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)] == before
