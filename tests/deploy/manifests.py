"""Rendered Kubernetes objects and look-ups the deployment tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = [("Deployment", "switchboard-gateway"), ("StatefulSet", "switchboard-worker")]
SHARED_STATE = ("StatefulSet", "switchboard-redis")  # not ours: a Redis, no switchboard CLI

Manifest = dict[str, Any]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod_spec(workload)["containers"]
    return dict(only)


class Rendered:
    """One overlay's objects with look-ups by kind and name (generated names keep their
    hash suffix, so `named` also matches `<name>-<hash>`)."""

    def __init__(self, name: str, objects: list[Manifest]) -> None:
        self.name = name
        self.objects = objects

    def __repr__(self) -> str:
        return f"Rendered({self.name!r})"

    def of_kind(self, kind: str) -> list[Manifest]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> Manifest:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        found = found or [
            o for o in self.of_kind(kind) if o["metadata"]["name"].rsplit("-", 1)[0] == name
        ]
        assert len(found) == 1, f"{self.name}: expected one {kind} {name}, found {len(found)}"
        return found[0]

    def config(self) -> dict[str, str]:
        data: dict[str, str] = self.named("ConfigMap", "switchboard-config")["data"]
        return data

    @property
    def partitions(self) -> int:
        return int(self.config()["SWITCHBOARD_PARTITIONS"])


def env(workload: dict[str, Any], overlay: Rendered) -> dict[str, str]:
    """The container's environment: its ConfigMap, then its own `env` entries."""
    found: dict[str, str] = {}
    for source in container(workload).get("envFrom", []):
        found |= overlay.named("ConfigMap", source["configMapRef"]["name"])["data"]
    for var in container(workload).get("env", []):
        found[var["name"]] = var.get("value", "<from field>")
    return found
