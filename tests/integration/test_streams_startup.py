"""A worker that cannot start safely says why in one line and exits, without a traceback.

- A topic with another partition count than SWITCHBOARD_PARTITIONS (as a broker that
  auto-creates topics leaves raw-notifications: 1 partition).
- A data directory kept while the topics were deleted and created again (as a deleted
  `.kafka/` or a recreated cluster leaves it): its tables are ahead of the changelogs.
  Deleting the directory the line names is enough for the worker to start again.
"""

import asyncio
import json
import shutil
import time
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.streams_fixtures import (
    WorkerGroup,
    WorkerProcess,
    create_topic,
    gateway_headers,
    produce,
    query,
    wait_caught_up,
)

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

UID = "2049025000431439"


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
        records = []
        for delta in (5, 7):
            body = {
                "notification": {"adamId": "1", "countDelta": delta, "pricingParam": "STDQ"},
                "notificationId": str(uuid.uuid4()),
                "notificationType": "ASSET_COUNT",
                "uId": UID,
            }
            records.append((UID.encode(), json.dumps(body).encode(), gateway_headers("apple")))
        asyncio.run(produce(kafka_bootstrap, raw, records))
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
        assert f"delete {tables} and start it again" in line
        assert "Traceback" not in worker.tail(400)

        shutil.rmtree(tables)  # what the line says to do
        worker.start()
        worker.wait_ready()
        # The new cluster's tables: nothing of the old one is served.
        assert query(f"{worker.url}/v1/orgs/{UID}/asset-counts")[0] == 404
    finally:
        group.stop()
