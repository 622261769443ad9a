"""Compose's monitoring: Prometheus scrapes every Switchboard service on the port it
listens on and loads the alert rules; Grafana gets that Prometheus as the datasource the
dashboard names, and the dashboard; both are published on the host's loopback only."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.compose import SERVICES, SWITCHBOARD, WORKERS, listen_port
from tests.deploy.manifests import REPO_ROOT

MONITORING = ("prometheus", "grafana")
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "switchboard.json"


def mounts(name: str) -> dict[str, Path]:
    """Container path -> repository path of a service's bind mounts."""
    found = {}
    for volume in SERVICES[name]["volumes"]:
        source, target = volume.split(":")[:2]
        found[target] = (REPO_ROOT / source).resolve()
    return found


def mounted(name: str, container_path: str) -> Path:
    """The repository file or directory that `container_path` comes from."""
    for target, source in mounts(name).items():
        if container_path == target or container_path.startswith(f"{target}/"):
            return source / Path(container_path).relative_to(target)
    raise AssertionError(f"{container_path} is not mounted into {name}")


def prometheus_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(
        mounted("prometheus", "/etc/prometheus/prometheus.yml").read_text()
    )
    return config


@pytest.mark.parametrize("name", MONITORING)
def test_published_on_loopback_only(name: str) -> None:
    ports = SERVICES[name]["ports"]
    assert ports and all(str(p).startswith("127.0.0.1:") for p in ports)


@pytest.mark.parametrize("name", MONITORING)
def test_mounted_files_exist_read_only(name: str) -> None:
    for volume in SERVICES[name]["volumes"]:
        assert volume.endswith(":ro"), volume
    assert all(source.exists() for source in mounts(name).values())


def test_prometheus_scrapes_the_gateway_and_every_worker() -> None:
    targets = {
        target
        for job in prometheus_config()["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    expected = {f"{name}:{listen_port(name)}" for name in SWITCHBOARD}
    assert targets == expected
    assert set(WORKERS) <= {t.split(":")[0] for t in targets}


def test_prometheus_loads_the_alert_rules() -> None:
    (rules,) = prometheus_config()["rule_files"]
    assert mounted("prometheus", rules) == (REPO_ROOT / "deploy/prometheus/alerts.yml").resolve()


def test_promtool_accepts_the_prometheus_config(tmp_path: Path) -> None:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is not installed: run `make promtool`", pytrace=False)
    config = prometheus_config()
    config["rule_files"] = [str(mounted("prometheus", p)) for p in config["rule_files"]]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [tool, "check", "config", str(local)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_datasource_is_the_one_the_dashboard_names() -> None:
    provisioning = mounted("grafana", "/etc/grafana/provisioning")
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in SERVICES and "9090" in SERVICES["prometheus"]["ports"][0]
    dashboard = json.loads(DASHBOARD.read_text())
    named = {
        target["datasource"]["uid"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    }
    assert named == {source["uid"]}


def test_grafana_loads_the_dashboard_directory() -> None:
    provisioning = mounted("grafana", "/etc/grafana/provisioning")
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "switchboard.yml").read_text())[
        "providers"
    ]
    assert mounted("grafana", provider["options"]["path"]) == DASHBOARD.parent.resolve()
