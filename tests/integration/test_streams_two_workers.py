"""Two workers share the partitions: any query is answered by either, before and after restarts.

A query reaching the worker that does not hold the organization's partition is forwarded
(table_route) to the one that does; this only works if the key the view routes by hashes
to the partition the producer put the organization's records in, which is checked here
against the partitions the broker reported for the records sent.
"""

import asyncio
import json
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

UIDS = [str(5000000000000000 + i * 7919) for i in range(24)]
TENANTS = [str(600000 + i) for i in range(8)]


@pytest.fixture(scope="module")
def group(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerGroup]:
    with WorkerGroup(
        kafka_bootstrap, Path(tmp_path_factory.mktemp("streams-two")), uids=UIDS, tenant_ids=TENANTS
    ).running(2) as workers:
        yield workers


def notifications() -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    out = []
    for i, uid in enumerate(UIDS):
        for adam in ("1", "2"):
            body = {
                "notification": {
                    "adamId": adam,
                    "countDelta": i + int(adam),
                    "pricingParam": "STDQ",
                },
                "notificationId": str(uuid.uuid4()),
                "notificationType": "ASSET_COUNT",
                "uId": uid,
            }
            out.append((uid.encode(), json.dumps(body).encode(), gateway_headers("apple")))
        test = {
            "notification": {},
            "notificationId": f"test-{uid}",
            "notificationType": "TEST_NOTIFICATION",
            "uId": uid,
        }
        out.append((uid.encode(), json.dumps(test).encode(), gateway_headers("apple")))
        user = {
            "notification": {
                "associatedUsers": [
                    {"clientUserId": f"c-{i}", "idHash": "h", "status": "Associated"}
                ]
            },
            "notificationId": f"user-{uid}",
            "notificationType": "USER_ASSOCIATED",
            "uId": uid,
        }
        out.append((uid.encode(), json.dumps(user).encode(), gateway_headers("apple")))
    for tenant in TENANTS:
        event = {
            "eventId": f"e-{tenant}",
            "eventType": "TENANT_REST_URL_CHANGE",
            "data": {
                "notificationType": "TENANT_REST_URL_CHANGE",
                "notificationData": {
                    "tenantId": tenant,
                    "tenantRestUrl": f"https://{tenant}.example",
                    "productUuid": "p",
                },
            },
        }
        out.append((tenant.encode(), json.dumps(event).encode(), gateway_headers("app")))
    return out


def answers(url: str) -> dict[str, Any]:
    """Every query for every organization, as answered by the worker at `url`."""
    got: dict[str, Any] = {}
    for uid in UIDS:
        for path in (
            "asset-counts",
            "last-test",
            "users?status=Associated",
            "assignments?adamId=1&pricingParam=STDQ",
        ):
            status, body = query(f"{url}/v1/orgs/{uid}/{path}")
            if path.startswith("asset-counts") and status == 200:
                body = sorted(body, key=lambda row: row["adamId"])
            got[f"{uid}/{path}"] = (status, body)
    for tenant in TENANTS:
        got[f"tenant/{tenant}"] = query(f"{url}/v1/tenants/{tenant}")
    return got


def expected_counts(uid: str) -> list[dict[str, Any]]:
    i = UIDS.index(uid)
    return [
        {"adamId": a, "pricingParam": "STDQ", "count": i + int(a), "baseline": None}
        for a in ("1", "2")
    ]


@pytest.fixture(scope="module")
def loaded(group: WorkerGroup) -> dict[str, Any]:
    sent = asyncio.run(produce(group.bootstrap, group.topic("raw-notifications"), notifications()))
    for (key, _, _), meta in zip(notifications(), sent, strict=True):
        # The producer's partition is the one the views route by (murmur2 of the key).
        assert meta.partition == partition_for(key, group.partitions)
    asyncio.run(wait_caught_up(group.bootstrap, group.name, group.topic("raw-notifications")))
    return answers(group.workers[0].url)


def test_both_workers_hold_partitions(group: WorkerGroup, loaded: dict[str, Any]) -> None:
    import httpx

    for worker in group.workers:
        text = httpx.get(f"{worker.url}/metrics", timeout=10).text
        assert "switchboard_stream_events_total" in text, worker.name  # each one processed some


def test_every_query_is_answered_correctly_by_either_worker(
    group: WorkerGroup, loaded: dict[str, Any]
) -> None:
    for uid in UIDS:
        assert loaded[f"{uid}/asset-counts"] == (200, expected_counts(uid))
        assert loaded[f"{uid}/last-test"][1]["notificationId"] == f"test-{uid}"
        users = loaded[f"{uid}/users?status=Associated"][1]["users"]
        assert [u["clientUserId"] for u in users] == [f"c-{UIDS.index(uid)}"]
        assert loaded[f"{uid}/assignments?adamId=1&pricingParam=STDQ"][0] == 404
    for tenant in TENANTS:
        assert loaded[f"tenant/{tenant}"][1]["tenantRestUrl"] == f"https://{tenant}.example"
    assert answers(group.workers[1].url) == loaded


def table_keys(url: str, table: str) -> float:
    """The worker's `switchboard_stream_table_keys` for `table`: the rows of every
    partition it keeps, active or standby (RocksDB's estimate)."""
    import httpx

    text = httpx.get(f"{url}/metrics", timeout=10).text
    found = re.search(rf'^switchboard_stream_table_keys{{table="{table}"}} (\S+)$', text, re.M)
    assert found, f"no table_keys for {table} in {url}/metrics"
    return float(found.group(1))


def test_each_worker_keeps_a_standby_copy_of_the_other_workers_rows(
    group: WorkerGroup, loaded: dict[str, Any]
) -> None:
    """One standby replica (the default): each worker applies the other's changelog
    records to its own copy (streams.consumer, "Changelog records to recovery"), so it
    can serve a partition it takes over at once. Faust applies a standby's records 1,000
    at a time per table (standby_buffer_size): with 5,000 more organizations, each worker
    holds nearly all rows; without the standby copy it would hold its 3 to 5 partitions
    of 8."""
    more = [str(7000000000000000 + i * 104729) for i in range(5000)]
    tests = [
        (
            uid.encode(),
            json.dumps(
                {
                    "notification": {},
                    "notificationId": f"standby-{uid}",
                    "notificationType": "TEST_NOTIFICATION",
                    "uId": uid,
                }
            ).encode(),
            gateway_headers("apple"),
        )
        for uid in more
    ]
    asyncio.run(produce(group.bootstrap, group.topic("raw-notifications"), tests))
    total = len(UIDS) + len(more)
    deadline = time.monotonic() + 90
    while True:
        held = [table_keys(w.url, "last_tests") for w in group.workers]
        if min(held) >= total - 1000 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert min(held) >= total - 1000, f"last_tests rows held: {held} of {total}"
    assert max(held) <= total


def test_restart_of_all_workers_gives_the_same_answers(
    group: WorkerGroup, loaded: dict[str, Any]
) -> None:
    """From local RocksDB first (SIGTERM, same data dirs), then from the changelogs only."""
    group.stop()
    for worker in group.workers:
        worker.start()
    group.wait_ready()
    assert answers(group.workers[0].url) == loaded
    assert answers(group.workers[1].url) == loaded

    group.stop()
    for worker in group.workers:
        shutil.rmtree(worker.env["SWITCHBOARD_DATA_DIR"], ignore_errors=True)
        worker.start()
    group.wait_ready()
    assert answers(group.workers[1].url) == loaded
    assert answers(group.workers[0].url) == loaded
