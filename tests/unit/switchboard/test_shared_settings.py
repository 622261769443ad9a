"""The settings the gateway and the workers share are defined once (schemas.sharedsettings):
one topic prefix gives both the same raw topic, and a missing tenants file stops either
process with the same one line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import GatewaySettings
from schemas.sharedsettings import SharedSettings
from schemas.topics import RAW_NOTIFICATIONS
from streams.config import WorkerSettings

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("prefix", ["", "staging."])
def test_one_prefix_gives_the_gateway_the_raw_topic_the_workers_read(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SWITCHBOARD_RAW_TOPIC", raising=False)
    monkeypatch.setenv("SWITCHBOARD_TOPIC_PREFIX", prefix)
    assert GatewaySettings().raw_topic == WorkerSettings().topic(RAW_NOTIFICATIONS)
    assert GatewaySettings().raw_topic == f"{prefix}raw-notifications"


def test_an_explicit_raw_topic_still_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_TOPIC_PREFIX", "staging.")
    monkeypatch.setenv("SWITCHBOARD_RAW_TOPIC", "bench-raw")
    assert GatewaySettings().raw_topic == "bench-raw"


@pytest.mark.parametrize("service", [GatewaySettings, WorkerSettings])
def test_the_shared_fields_are_inherited_not_redefined(
    service: type[GatewaySettings] | type[WorkerSettings],
) -> None:
    shared = SharedSettings.model_fields
    assert {"kafka_bootstrap", "topic_prefix", "tenants_file"} <= set(shared)
    assert not set(shared) & set(service.__annotations__), "redefined in the service"
    for name, field in shared.items():
        assert service.model_fields[name].default == field.default, name


def run(
    command: str, tenants_file: Path | None, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SWITCHBOARD_TENANTS_FILE"}
    if tenants_file is not None:
        env["SWITCHBOARD_TENANTS_FILE"] = str(tenants_file)
    env["SWITCHBOARD_DATA_DIR"] = str(tmp_path / "data")
    env["SWITCHBOARD_KAFKA_BOOTSTRAP"] = "127.0.0.1:9"  # never reached
    return subprocess.run(
        [sys.executable, "-m", "switchboard", command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", ["gateway", "worker"])
def test_an_unset_tenants_file_is_one_line_naming_the_variable(
    command: str, tmp_path: Path
) -> None:
    done = run(command, None, tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"switchboard {command}: tenants file refused: "
        "SWITCHBOARD_TENANTS_FILE is not set: the tenants file is required"
    ]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", ["gateway", "worker"])
def test_a_missing_tenants_file_is_one_line_naming_the_variable_and_the_path(
    command: str, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "tenants.yaml"
    done = run(command, missing, tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"switchboard {command}: tenants file refused: "
        f"cannot read SWITCHBOARD_TENANTS_FILE={missing}: No such file or directory"
    ]
