"""A worker that cannot start safely says why in one line and exits, without a traceback.

- A topic with another partition count than SWITCHBOARD_PARTITIONS (as a broker that
  auto-creates topics leaves raw-notifications: 1 partition).
- A data directory kept while the topics were deleted and created again: its tables are
  ahead of the changelogs. Deleting the directory the line names is enough for the
  worker to start again.
- A data directory kept while the cluster was recreated (a deleted `.kafka/`): its
  tables were written against another cluster id, even where the new changelogs are
  already longer than the old ones.
"""

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.streams_fixtures import (
    Record,
    WorkerGroup,
    WorkerProcess,
    create_topic,
    gateway_headers,
    produce,
    query,
    wait_caught_up,
)
from tests.kafka_node import single_node

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

UID = "2049025000431439"


def asset_count(delta: int) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    body = {
        "notification": {"adamId": "1", "countDelta": delta, "pricingParam": "STDQ"},
        "notificationId": str(uuid.uuid4()),
        "notificationType": "ASSET_COUNT",
        "uId": UID,
    }
    return UID.encode(), json.dumps(body).encode(), gateway_headers("apple")


def exits(worker: WorkerProcess, timeout: float = 120.0) -> tuple[int, str]:
    """Start the worker, wait for it to exit; its exit code and its last log line."""
    worker.start()
    assert worker.proc is not None
    code = worker.proc.wait(timeout)
    return code, worker.tail(1)


def test_a_topic_with_the_wrong_partition_count_is_named_with_the_fix(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    group = WorkerGroup(kafka_bootstrap, tmp_path, uids=[UID], partitions=4)
    raw = group.topic("raw-notifications")
    asyncio.run(create_topic(kafka_bootstrap, raw, 1))
    code, line = exits(group.add_worker())
    assert code == 1, line
    assert line.startswith("switchboard worker: topics with the wrong partition count:")
    assert f"{raw} has 1, expected 4 (SWITCHBOARD_PARTITIONS" in line
    assert f"--bootstrap-server {kafka_bootstrap} --delete --topic {raw}" in line
    assert "Traceback" not in group.workers[0].tail(400)


async def delete_topics(bootstrap: str, prefix: str, limit_s: float = 60.0) -> None:
    """Delete every topic of this prefix and wait until the broker lists none of them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        assert names
        await admin.delete_topics(names)
        deadline = time.monotonic() + limit_s
        while any(t.startswith(prefix) for t in await admin.list_topics()):
            assert time.monotonic() < deadline, "topics still listed after deletion"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


def test_tables_kept_from_deleted_topics_are_refused_then_rebuilt_once_deleted(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    group = WorkerGroup(kafka_bootstrap, tmp_path, uids=[UID], partitions=2)
    raw = group.topic("raw-notifications")
    [worker] = group.start(1)
    try:
        asyncio.run(produce(kafka_bootstrap, raw, [asset_count(5), asset_count(7)]))
        asyncio.run(wait_caught_up(kafka_bootstrap, group.name, raw, 2))
        assert query(f"{worker.url}/v1/orgs/{UID}/asset-counts")[0] == 200
        worker.stop()
        assert worker.proc is not None and worker.proc.returncode == 0

        # The cluster forgets everything; the worker's data directory is kept.
        asyncio.run(delete_topics(kafka_bootstrap, group.name))  # changelogs: "<app id>-"
        code, line = exits(worker)
        assert code == 1, line
        tables = Path(worker.env["SWITCHBOARD_DATA_DIR"]) / "v1" / "tables"
        assert line.startswith(
            "switchboard worker: the data directory holds tables from another Kafka cluster"
        ), line
        assert "-changelog partition " in line and "but that topic ends at offset 0" in line
        assert f"delete {tables} and start the worker again" in line
        assert "Traceback" not in worker.tail(400)

        shutil.rmtree(tables)  # what the line says to do
        worker.start()
        worker.wait_ready()
        # The new cluster's tables: nothing of the old one is served.
        assert query(f"{worker.url}/v1/orgs/{UID}/asset-counts")[0] == 404
    finally:
        group.stop()


@pytest.fixture
def second_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Another single-broker cluster: a new cluster id, as a deleted `.kafka/` gives."""
    with single_node(tmp_path_factory.mktemp("kafka-b")) as cluster:
        yield cluster.bootstrap


def test_tables_from_another_cluster_are_refused_though_its_changelogs_are_longer(
    kafka_bootstrap: str, second_cluster: str, tmp_path: Path
) -> None:
    group = WorkerGroup(kafka_bootstrap, tmp_path, uids=[UID], partitions=2)
    raw = group.topic("raw-notifications")
    [worker] = group.start(1)
    try:
        asyncio.run(produce(kafka_bootstrap, raw, [asset_count(5)]))
        asyncio.run(wait_caught_up(kafka_bootstrap, group.name, raw, 2))
        worker.stop()
        # On the new cluster every changelog partition is already longer than the old
        # ones were (other workers ran there first): the offsets look current.
        asyncio.run(longer_changelogs(second_cluster, group.name, 2))
        worker.env["SWITCHBOARD_KAFKA_BOOTSTRAP"] = second_cluster
        code, line = exits(worker)
        assert code == 1, line
        tables = Path(worker.env["SWITCHBOARD_DATA_DIR"]) / "v1" / "tables"
        assert line.startswith(
            "switchboard worker: the data directory holds tables from another Kafka cluster"
        ), line
        assert "written against cluster id " in line
        assert f"delete {tables} and start the worker again" in line
        assert "Traceback" not in worker.tail(400)
    finally:
        group.stop()


async def longer_changelogs(bootstrap: str, app_id: str, partitions: int) -> None:
    from streams.tables import TABLES

    for name in TABLES:
        topic = f"{app_id}-{name}-changelog"
        await create_topic(bootstrap, topic, partitions)
        records: list[Record] = [(f"k{i}".encode(), b"{}", []) for i in range(20)]
        await produce(bootstrap, topic, records)
