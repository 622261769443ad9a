"""One 3-broker cluster per session and one stack (2 workers, 1 gateway) per module.

Everything started here is stopped in a finally, killed if it does not stop in time, so
no JVM, worker or gateway outlives the run whatever a scenario did to it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from switchboard import localkafka
from switchboard.sender import write_tenants_file
from tests.integration.streams_fixtures import WorkerGroup
from tests.system.stack import (
    AUD,
    PARTITIONS,
    Stack,
    gateway_process,
    scenario_workloads,
)

SCENARIOS, TENANTS, ORGS_PER_TENANT, NOTIFICATIONS = 6, 3, 8, 600


@pytest.fixture(scope="session")
def cluster3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localkafka.Cluster]:
    home = tmp_path_factory.mktemp("kafka3")
    ports = [localkafka.free_port() for _ in range(3)]
    controller_ports = [localkafka.free_port() for _ in range(3)]
    cluster = localkafka.create(home, ports, controller_ports)
    try:
        for node in cluster.nodes:
            localkafka.start_node(cluster, node.node_id)
        localkafka.wait_ready(cluster, timeout=180, brokers=3)
        yield cluster
    finally:
        localkafka.stop(home)


@pytest.fixture(scope="module")
def stack(
    cluster3: localkafka.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("stack")
    workloads = scenario_workloads(SCENARIOS, TENANTS, ORGS_PER_TENANT, NOTIFICATIONS)
    group = WorkerGroup(
        cluster3.bootstrap,
        home,
        partitions=PARTITIONS,
        extra_env={"SWITCHBOARD_REPLICATION": "3", "SWITCHBOARD_SESSION_TIMEOUT_S": "6"},
    )
    credentials = write_tenants_file(group.tenants_file, workloads, AUD)
    gateway = None
    try:
        group.start(2)  # the workers create the topics, with PARTITIONS and replication 3
        gateway = gateway_process(group, home)
        gateway.start()
        gateway.wait_ready(90)
        yield Stack(cluster3, group, gateway, credentials, workloads)
    finally:
        if gateway is not None:
            gateway.stop()
        group.stop()
