"""docker-compose.yml, read once, for the compose tests (test_compose*.py)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.deploy.commands import option_value
from tests.deploy.manifests import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SWITCHBOARD = {
    n: s for n, s in SERVICES.items() if str(s.get("image", "")).startswith("switchboard")
}
WORKERS = sorted(n for n, s in SWITCHBOARD.items() if s["command"][0] == "worker")


def listen_port(name: str) -> str:
    service = SERVICES[name]
    if service["command"][0] == "worker":
        return str(service["environment"]["SWITCHBOARD_WEB_PORT"])
    port = option_value(service["command"], "--port")
    assert port, f"{name} does not say its port"
    return port
