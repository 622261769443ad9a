"""A refused tenants file stops the gateway and the worker at start with one line that
says why, and never the file's text (it holds secrets)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SECRET = "s3cr3t-in-the-tenants-file-0123456789abcdef"
SHARED_UID = f"""
tenants:
  - id: acme
    uids: ["2049025000431439"]
  - id: globex
    uids: ["2049025000431439"]
app_issuers:
  - iss: ams
    aud: aud
    tenant: acme
    secrets: ["{SECRET}"]
"""
BROKEN_YAML = f'tenants: [{{id: acme}}]\napp_issuers:\n  - secrets: ["{SECRET}]\n'


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", ["gateway", "worker"])
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (SHARED_UID, "uId '2049025000431439' is listed under two tenants"),
        (BROKEN_YAML, "not valid YAML: line 4, column 1"),
    ],
    ids=["shared-uid", "broken-yaml"],
)
def test_a_refused_file_stops_the_process_with_one_line(
    tmp_path: Path, command: str, text: str, reason: str
) -> None:
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(text, encoding="utf-8")
    env = {
        **os.environ,
        "SWITCHBOARD_TENANTS_FILE": str(tenants),
        "SWITCHBOARD_DATA_DIR": str(tmp_path / "data"),
        "SWITCHBOARD_KAFKA_BOOTSTRAP": "127.0.0.1:9",  # never reached
    }
    done = subprocess.run(
        [sys.executable, "-m", "switchboard", command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"switchboard {command}: tenants file refused: ")
    assert reason in line
    assert SECRET not in done.stdout + done.stderr
