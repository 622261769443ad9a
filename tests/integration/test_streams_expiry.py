"""Dedupe state expires, also for sightings a worker only has from its RocksDB after a restart.

faust-streaming's windowed tables do not do that (issue 385: windows recovered from RocksDB
never expire, and expiry deletes locally without a changelog tombstone), which is why
streams.dedupe keeps its own time-bucketed keys. The dedupe window is 2 s here; time is
the gateway's received-at, so the test moves it forward instead of sleeping.
"""

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from streams.keys import partition_for
from tests.integration.streams_fixtures import (
    WorkerGroup,
    gateway_headers,
    produce,
    query,
    wait_caught_up,
)

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

PARTITIONS = 4
UIDS = [str(8000000000000000 + i) for i in range(12)]
assert {partition_for(u, PARTITIONS) for u in UIDS} == set(range(PARTITIONS))


@pytest.fixture(scope="module")
def group(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerGroup]:
    with WorkerGroup(
        kafka_bootstrap,
        Path(tmp_path_factory.mktemp("streams-expiry")),
        uids=UIDS,
        partitions=PARTITIONS,
        extra_env={"SWITCHBOARD_DEDUPE_WINDOW_S": "2"},
    ).running(1) as workers:
        yield workers


def count_body(uid: str, nid: str) -> bytes:
    return json.dumps(
        {
            "notification": {"adamId": "1", "countDelta": 5, "pricingParam": "P"},
            "notificationId": nid,
            "notificationType": "ASSET_COUNT",
            "uId": uid,
        }
    ).encode()


def send_all(group: WorkerGroup, nid: str, at_ms: int) -> None:
    records = [(u.encode(), count_body(u, nid), gateway_headers("apple", at_ms)) for u in UIDS]
    asyncio.run(produce(group.bootstrap, group.topic("raw-notifications"), records))
    asyncio.run(
        wait_caught_up(
            group.bootstrap, group.name, group.topic("raw-notifications"), partitions=PARTITIONS
        )
    )


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_sightings_expire_after_a_restart_and_a_late_repeat_counts_again(
    group: WorkerGroup,
) -> None:
    now = int(time.time() * 1000)
    send_all(group, "first", now)
    send_all(group, "first", now + 1000)  # within 2 s: duplicates
    [worker] = group.workers
    worker.stop()
    worker.start()  # sightings are now only in RocksDB (and the changelog)
    worker.wait_ready()

    send_all(group, "later", now + 10_000)  # 10 s later: "first" is 5 windows old
    assert metric(worker.url, "switchboard_stream_sightings_expired_total") == len(UIDS)
    send_all(group, "first", now + 10_500)  # a repeat after the window is a new notification
    for uid in UIDS:
        status, rows = query(f"{worker.url}/v1/orgs/{uid}/asset-counts")
        assert (status, rows[0]["count"]) == (200, 15)  # first, later, first again
