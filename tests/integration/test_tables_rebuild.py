"""`switchboard tables rebuild` against the real broker with a real worker.

Notifications of every kind go through a worker (applied, duplicated, conflicting,
dead-lettered); the views are read. The worker is stopped, and two losses are staged: the
asset_counts changelog is deleted (the tables lost) and notifications.test is emptied (an
output partition retention cleared, so it has no tail to read a mark from). The command,
run as an operator runs it with the worker's environment, rebuilds; the worker started
again on the same data directory answers exactly as before, no output topic got a
record, and a worker on a copy of the old tables (a PVC nobody deleted) is refused.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from schemas import topics as names
from tests.integration.streams_fixtures import (
    REPO,
    WorkerGroup,
    WorkerProcess,
    example_bytes,
    gateway_headers,
    produce,
    query,
    wait_caught_up,
)

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

UIDS = [str(5100000000000000 + i * 7919) for i in range(10)]
DOC_UID = "2049025000431439"  # the uId of the reference examples
OUTPUTS = [*names.PER_TYPE_TOPICS, names.DEAD_LETTER, names.CONFLICTS]


@pytest.fixture
def group(kafka_bootstrap: str, tmp_path: Path) -> Iterator[WorkerGroup]:
    with WorkerGroup(kafka_bootstrap, tmp_path, uids=UIDS).running(1) as workers:
        yield workers


def records() -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """Per organization: counts (one repeated), a test, a user, a conflict; and garbage."""
    out = []
    for i, uid in enumerate(UIDS):
        for j, delta in enumerate((5, -2, 11)):
            body = {
                "notification": {"adamId": f"{j % 2}", "countDelta": delta, "pricingParam": "STDQ"},
                "notificationId": f"count-{uid}-{j}",
                "notificationType": "ASSET_COUNT",
                "uId": uid,
            }
            out.append((uid, json.dumps(body).encode()))
        out.append(out[-1])  # Apple's retry: a duplicate
        out.append(
            (uid, example_bytes("apple_test_notification").replace(DOC_UID.encode(), uid.encode()))
        )
        users = [example_bytes(f"apple_user_management_{n}") for n in ("create", "update")]
        out.extend((uid, u.replace(DOC_UID.encode(), uid.encode())) for u in users)  # a conflict
        if i % 3 == 0:
            out.append((uid, b"\x00 not json"))  # a dead letter
    return [(k.encode(), v, gateway_headers("apple")) for k, v in out]


def views(worker: WorkerProcess) -> dict[str, Any]:
    got = {}
    for uid in UIDS:
        for path in ("asset-counts", "last-test", "users/client-100"):
            got[f"{uid}/{path}"] = query(f"{worker.url}/v1/orgs/{uid}/{path}")
    return got


async def ends(bootstrap: str, topics: list[str], partitions: int = 8) -> dict[Any, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def empty(bootstrap: str, topic: str) -> None:
    """Delete every record of `topic`, as retention would (offsets stay)."""
    end = await ends(bootstrap, [topic])
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(o) for tp, o in end.items()})
    finally:
        await admin.close()


async def delete(bootstrap: str, topic: str) -> None:
    """The topic gone, as lost tables are (a compacted topic takes no DeleteRecords)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
        for _ in range(300):  # until the cluster no longer lists it, at most a minute
            if topic not in await admin.list_topics():
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{topic} still listed a minute after its deletion")
    finally:
        await admin.close()


def rebuild(worker: WorkerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchboard", "tables", "rebuild", *args],
        cwd=REPO,
        env=worker.env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_rebuild_answers_the_same_and_forwards_nothing(group: WorkerGroup) -> None:
    raw = group.topic(names.RAW_NOTIFICATIONS)
    worker = group.workers[0]
    asyncio.run(produce(group.bootstrap, raw, records()))
    asyncio.run(wait_caught_up(group.bootstrap, group.name, raw))
    before = views(worker)
    assert all(status == 200 for status, _ in before.values()), before
    outputs = [group.topic(t) for t in OUTPUTS]
    written = asyncio.run(ends(group.bootstrap, outputs))

    def on(topic: str) -> int:
        return sum(n for tp, n in written.items() if tp.topic == group.topic(topic))

    # Every kind of output is there to be forwarded again, or not.
    assert (on(names.CONFLICTS), on(names.DEAD_LETTER)) == (len(UIDS), 4)
    assert on(names.ASSET_COUNT) == 3 * len(UIDS)

    refused = rebuild(worker, "--yes")
    assert refused.returncode == 1
    assert "has 1 members: stop every worker first" in refused.stderr

    worker.stop()
    forgotten = group.home / "forgotten-pvc"  # a copy of the old tables nobody deleted
    shutil.copytree(worker.env["SWITCHBOARD_DATA_DIR"], forgotten)
    asyncio.run(delete(group.bootstrap, f"{group.name}-asset_counts-changelog"))
    asyncio.run(empty(group.bootstrap, group.topic(names.TEST)))
    dry = rebuild(worker)
    assert dry.returncode == 0, dry.stderr
    assert "nothing done without --yes" in dry.stdout

    done = rebuild(worker, "--yes")
    assert done.returncode == 0, done.stderr
    assert "records written to the output topics meanwhile: 0" in done.stdout

    worker.start()
    group.wait_ready()
    assert views(worker) == before
    assert asyncio.run(ends(group.bootstrap, outputs)) == written

    # A worker on the old tables is refused, though the new changelogs are as long.
    stale = group.add_worker()
    shutil.copytree(forgotten, stale.env["SWITCHBOARD_DATA_DIR"])
    stale.start()
    assert stale.proc is not None
    assert stale.proc.wait(120) == 1, stale.tail()
    assert "changelog topics were deleted and created again since" in stale.tail(1)
