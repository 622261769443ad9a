"""The whole stack for system tests: 3 brokers, 2 stream workers, 1 gateway, and their tenants.

The cluster is a 3-voter KRaft quorum (replication 3, min.insync.replicas 2) from
switchboard.localkafka. Workers and gateway are subprocesses (tests.integration's
WorkerProcess), waited on through /readyz, killed with real signals. Every scenario's
workload is generated up front with organizations of its own, so one tenants file serves
the whole module and each scenario's check sees only its own notifications.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from switchboard import localkafka
from switchboard.sender import Credentials
from switchboard.workload import Notification, Org, Workload
from tests.integration.streams_fixtures import REPO, WorkerGroup, WorkerProcess

PUBLISH_TIMEOUT_S = 2.0
PARTITIONS = 4
AUD = "switchboard-system"


class GatewayProcess(WorkerProcess):
    """`python -m switchboard gateway` as a subprocess; same lifecycle as a worker."""

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "switchboard", "gateway", "--port", str(self.port)],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=log,
            )


def rebase(workload: Workload, scenario: int) -> Workload:
    """The same workload on organizations no other scenario uses (keys shifted)."""

    def moved(org: Org) -> str:
        return str(int(org.key) + scenario * (100_000 if org.app else 1_000))

    keys = {o.key: moved(o) for o in workload.orgs}
    orgs = [Org(keys[o.key], o.tenant, o.app, o.users, o.serials) for o in workload.orgs]
    scripts = {
        keys[old]: [
            Notification(
                n.id,
                n.type,
                n.path,
                keys[old],
                n.body.replace(f'"{old}"'.encode(), f'"{keys[old]}"'.encode()),
            )
            for n in script
        ]
        for old, script in workload.scripts.items()
    }
    return Workload(orgs, scripts)


def scenario_workloads(count: int, tenants: int, orgs: int, size: int) -> list[Workload]:
    return [rebase(Workload.generate(tenants, orgs, size, seed=100 + n), n) for n in range(count)]


async def _isr_short(bootstrap: str) -> int:
    """Partitions whose in-sync replicas are fewer than their replicas."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = await admin.list_topics()
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return sum(len(p["isr"]) < len(p["replicas"]) for t in described for p in t["partitions"])


@dataclass
class Stack:
    cluster: localkafka.Cluster
    group: WorkerGroup
    gateway: GatewayProcess
    credentials: Credentials
    workloads: list[Workload] = field(default_factory=list)

    @property
    def raw_topic(self) -> str:
        return self.group.topic("raw-notifications")

    def brokers_up(self) -> list[int]:
        return [n.node_id for n in self.cluster.nodes if localkafka.pid_alive(n.pid)]

    def restore(self, timeout: float = 120.0) -> None:
        """Restart whatever a scenario killed and wait until everything is ready again,
        replicas included: the next scenario may kill a broker and needs 2 in sync."""
        for node in self.cluster.nodes:
            localkafka.start_node(self.cluster, node.node_id)
        localkafka.wait_ready(self.cluster, timeout, brokers=len(self.cluster.nodes))
        self.wait_replicas_in_sync(timeout)
        for process in [*self.group.workers, self.gateway]:
            if process.proc is None or process.proc.poll() is not None:
                process.start()
        for process in [*self.group.workers, self.gateway]:
            process.wait_ready(timeout)

    def wait_replicas_in_sync(self, timeout: float) -> None:
        deadline, short = time.monotonic() + timeout, -1
        while time.monotonic() < deadline:
            short = asyncio.run(_isr_short(self.cluster.bootstrap))
            if short == 0:
                return
            time.sleep(0.5)
        raise TimeoutError(f"{short} partitions still under-replicated after {timeout}s")


def gateway_process(group: WorkerGroup, home: Path) -> GatewayProcess:
    port = localkafka.free_port()
    env = {
        **group.workers[0].env,
        "SWITCHBOARD_RAW_TOPIC": group.topic("raw-notifications"),
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_PUBLISH_TIMEOUT_S": str(PUBLISH_TIMEOUT_S),
        "SWITCHBOARD_HEALTH_INTERVAL_S": "0.25",
        "SWITCHBOARD_KAFKA_REQUEST_TIMEOUT_MS": "10000",
    }
    return GatewayProcess("gateway", env, port, home / "gateway.log")
