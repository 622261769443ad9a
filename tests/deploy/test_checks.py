"""The command and settings checks used by the compose and Kubernetes tests reject what
they must, so their passing on the real files means something."""

from __future__ import annotations

import pytest

from tests.deploy.commands import command_problems
from tests.deploy.settings import settings_problems

ANY_INTERFACE = "0.0.0.0"  # noqa: S104 - what a container binds
WORKER_ENV = {
    "SWITCHBOARD_WEB_BIND": ANY_INTERFACE,
    "SWITCHBOARD_WEB_HOST": "worker-1",
    "SWITCHBOARD_PARTITIONS": "8",
}


def test_real_commands_pass() -> None:
    assert command_problems(["gateway", "--host", ANY_INTERFACE, "--port", "8080"]) == []
    assert command_problems(["worker", "--web-port", "6066"]) == []  # a `faust worker` option


@pytest.mark.parametrize(
    "args",
    [[], ["gatway"], ["gateway", "--hots", ANY_INTERFACE], ["worker", "--web-prot", "6066"]],
    ids=["empty", "unknown-command", "unknown-option", "unknown-faust-option"],
)
def test_broken_commands_fail(args: list[str]) -> None:
    assert command_problems(args)


def test_real_settings_pass() -> None:
    assert settings_problems("worker", WORKER_ENV) == []
    assert settings_problems("gateway", {"SWITCHBOARD_PUBLISH_TIMEOUT_S": "5"}) == []


@pytest.mark.parametrize(
    ("service", "change", "mentions"),
    [
        ("worker", {"SWITCHBOARD_PARTITONS": "8"}, "read by no service"),
        ("worker", {"SWITCHBOARD_PARTITIONS": "eight"}, "partitions"),
        ("worker", {"SWITCHBOARD_WEB_BIND": "127.0.0.1"}, "WEB_BIND"),
        ("worker", {"SWITCHBOARD_WEB_HOST": ANY_INTERFACE}, "WEB_HOST"),
        ("gateway", {"SWITCHBOARD_PORT": "http"}, "port"),
    ],
)
def test_broken_settings_fail(service: str, change: dict[str, str], mentions: str) -> None:
    env = {**WORKER_ENV, **change} if service == "worker" else change
    assert mentions in "\n".join(settings_problems(service, env))
