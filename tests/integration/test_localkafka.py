"""The project's own Kafka runner: starts real brokers, stops them without orphans, and a
3-node KRaft cluster keeps accepting acks=all writes with one node down."""

import asyncio
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from switchboard import localkafka

pytestmark = pytest.mark.kafka


def switchboard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchboard", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_cli_start_status_stop_leaves_no_process(tmp_path: Path) -> None:
    home = str(tmp_path / "kafka")
    port, cport = localkafka.free_port(), localkafka.free_port()
    started = switchboard(
        "kafka", "start", "--home", home, "--port", str(port), "--controller-port", str(cport)
    )
    try:
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip().endswith(f"127.0.0.1:{port}")
        pid = localkafka.Cluster.load(home).nodes[0].pid  # type: ignore[union-attr]
        assert localkafka.pid_alive(pid)
        assert switchboard("kafka", "status", "--home", home).returncode == 0
    finally:
        stopped = switchboard("kafka", "stop", "--home", home)
    assert stopped.returncode == 0
    assert not localkafka.pid_alive(pid)
    assert switchboard("kafka", "status", "--home", home).returncode == 1


async def _produce_all_acks(bootstrap: str, topic: str, count: int) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=15000
    )
    await producer.start()
    try:
        sent = await asyncio.gather(
            *[producer.send_and_wait(topic, b"x", key=str(i).encode()) for i in range(count)]
        )
    finally:
        await producer.stop()
    return len(sent)


async def _create_replicated_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, 3, 3, topic_configs={"min.insync.replicas": "2"})]
        )
    finally:
        await admin.close()


def test_three_node_cluster_survives_one_node_down(tmp_path: Path) -> None:
    ports = [localkafka.free_port() for _ in range(3)]
    cports = [localkafka.free_port() for _ in range(3)]
    cluster = localkafka.create(tmp_path / "k3", ports, cports)
    try:
        for node in cluster.nodes:
            localkafka.start_node(cluster, node.node_id)
        localkafka.wait_ready(cluster, timeout=180)
        asyncio.run(_create_replicated_topic(cluster.bootstrap, "replicated"))
        assert asyncio.run(_produce_all_acks(cluster.bootstrap, "replicated", 100)) == 100

        localkafka.kill_node(cluster, 3, signal.SIGKILL)
        # Two of three in sync still satisfies min.insync.replicas=2 for acks=all.
        assert asyncio.run(_produce_all_acks(cluster.bootstrap, "replicated", 100)) == 100

        localkafka.start_node(cluster, 3)
        localkafka.wait_ready(cluster, timeout=180)
        assert asyncio.run(_produce_all_acks(cluster.bootstrap, "replicated", 10)) == 10
    finally:
        localkafka.stop(cluster.home)
    assert not any(localkafka.pid_alive(n.pid) for n in localkafka.Cluster.load(cluster.home).nodes)  # type: ignore[union-attr]


def test_a_cluster_id_starting_with_a_dash_formats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # base64url of a first byte 0xF8 starts with "-", which the storage tool once took
    # for an option (seen in CI: about one run in 64).
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(bytes=b"\xf8" + b"\x01" * 15))
    cluster = localkafka.create(
        tmp_path / "kafka", [localkafka.free_port()], [localkafka.free_port()]
    )
    assert cluster.cluster_id.startswith("-")
    assert all((Path(node.data_dir) / "meta.properties").exists() for node in cluster.nodes)
