"""Whether the SWITCHBOARD_* variables the deployment files set are read, and valid.

The gateway and the workers read their settings with pydantic-settings and ignore unknown
variables, so a misspelt or invented name would be dropped without a word at start-up.
"""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from gateway.config import GatewaySettings
from streams.config import WorkerSettings

PREFIX = "SWITCHBOARD_"
BIND_ALL = {"0.0.0.0", "::"}  # noqa: S104 - what the worker must bind in a container
# SWITCHBOARD_WEB_HOST is the name other workers use to reach this one (its canonical
# URL), so a bind address or a loopback name makes every worker forward to itself.
NOT_REACHABLE = BIND_ALL | {"127.0.0.1", "localhost", "::1"}
SERVICES: dict[str, type[BaseSettings]] = {"gateway": GatewaySettings, "worker": WorkerSettings}


def settings_problems(service: str, env: dict[str, str]) -> list[str]:
    """Why `env` would not configure `switchboard <service>` as meant; empty if it would."""
    ours = {k.removeprefix(PREFIX).lower(): v for k, v in env.items() if k.startswith(PREFIX)}
    read_by_any = set(GatewaySettings.model_fields) | set(WorkerSettings.model_fields)
    found = [f"{PREFIX}{k.upper()} is read by no service" for k in ours if k not in read_by_any]
    model = SERVICES[service]
    try:
        model.model_validate({k: v for k, v in ours.items() if k in model.model_fields})
    except ValidationError as exc:
        found.append(f"{service} settings: {exc}")
    if service == "worker":
        if ours.get("web_bind") not in BIND_ALL:
            found.append("SWITCHBOARD_WEB_BIND must be 0.0.0.0: probes and peers come from outside")
        if ours.get("web_host", "127.0.0.1") in NOT_REACHABLE:
            found.append("SWITCHBOARD_WEB_HOST must be a name other workers can reach")
    return found
