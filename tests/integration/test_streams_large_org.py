"""A large organization: 40,000 assignments of one asset, read back page by page.

One uId is sent 400 ASSET_MANAGEMENT ASSOCIATE notifications of 100 serial numbers each
(as Apple sends them), some of them twice, then a DISASSOCIATE of 100 of those serial
numbers, then a notification for another organization on the same partition. The pages
of the assignments view must list every serial number still assigned exactly once, and
the other organization must not wait behind the large one. The same holds with the
worker SIGKILLed while it works through them.
"""

import asyncio
import json
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.keys import partition_for
from tests.integration.streams_fixtures import (
    Record,
    WorkerGroup,
    gateway_headers,
    produce,
    query,
    wait_caught_up,
)

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

BIG, ADAM, NOTIFICATIONS, PER_NOTIFICATION = "5100000000000001", "361309156", 400, 100
NEIGHBOUR = next(  # another organization whose notifications share BIG's partition
    uid
    for uid in (str(5100000000000002 + i) for i in range(1000))
    if partition_for(uid, 8) == partition_for(BIG, 8)
)


def assignment(serials: list[str], kind: str = "ASSOCIATE") -> bytes:
    body = {
        "notification": {
            "assignments": [
                {"adamId": ADAM, "pricingParam": "STDQ", "serialNumber": s} for s in serials
            ],
            "eventId": str(uuid.uuid4()),
            "result": "SUCCESS",
            "type": kind,
        },
        "notificationId": str(uuid.uuid4()),
        "notificationType": "ASSET_MANAGEMENT",
        "uId": BIG,
    }
    return json.dumps(body).encode()


def neighbour_count() -> bytes:
    body = {
        "notification": {"adamId": "1", "countDelta": 7, "pricingParam": "STDQ"},
        "notificationId": str(uuid.uuid4()),
        "notificationType": "ASSET_COUNT",
        "uId": NEIGHBOUR,
    }
    return json.dumps(body).encode()


def workload(seed: int) -> tuple[list[Record], list[Record], set[str]]:
    """(the ASSOCIATEs with repeats, then the DISASSOCIATE; the serials held at the end)."""
    rng = random.Random(seed)
    serials = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(NOTIFICATIONS * 100)]
    associates: list[Record] = []
    for i in range(NOTIFICATIONS):
        record: Record = (BIG.encode(), assignment(serials[i * 100 : (i + 1) * 100]), [])
        associates.append(record)
        if i % 10 == 3:  # Apple's retry: the same bytes again
            associates.append(record)
    removed = rng.sample(serials, PER_NOTIFICATION)
    with_headers: list[Record] = [(k, v, gateway_headers("apple")) for k, v, _ in associates]
    disassociate: list[Record] = [
        (BIG.encode(), assignment(removed, "DISASSOCIATE"), gateway_headers("apple"))
    ]
    return with_headers, disassociate, set(serials) - set(removed)


def every_page(url: str, limit: int) -> list[str]:
    """All serial numbers of the asset, page after page."""
    held: list[str] = []
    after = ""
    for _ in range(NOTIFICATIONS * 100 // limit + 2):
        path = f"{url}/v1/orgs/{BIG}/assignments?adamId={ADAM}&pricingParam=STDQ&limit={limit}"
        status, page = query(path + after)
        assert status == 200, page
        assert page["clientUserIds"] == []
        held += page["serialNumbers"]
        if page["next"] is None:
            return held
        after = f"&after={page['next']}"
    raise AssertionError("the pages did not end")


def neighbour_seen_within(url: str, limit_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        status, rows = query(f"{url}/v1/orgs/{NEIGHBOUR}/asset-counts")
        if status == 200:
            assert rows == [{"adamId": "1", "pricingParam": "STDQ", "count": 7, "baseline": None}]
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"the neighbour's notification was not applied within {limit_s} s")


def check(group: WorkerGroup, held: set[str]) -> None:
    url = group.workers[0].url
    for limit in (10_000, 1_000):
        listed = every_page(url, limit)
        assert len(listed) == len(set(listed)), "a serial number is listed twice"
        assert set(listed) == held


@pytest.fixture
def group(kafka_bootstrap: str, tmp_path: Path) -> Iterator[WorkerGroup]:
    with WorkerGroup(kafka_bootstrap, tmp_path, uids=[BIG, NEIGHBOUR]).running(1) as workers:
        yield workers


def test_every_assignment_of_a_large_organization_is_listed_once(group: WorkerGroup) -> None:
    associates, disassociate, held = workload(seed=1)
    raw = group.topic("raw-notifications")
    asyncio.run(produce(group.bootstrap, raw, associates + disassociate))
    asyncio.run(
        produce(
            group.bootstrap,
            raw,
            [(NEIGHBOUR.encode(), neighbour_count(), gateway_headers("apple"))],
        )
    )
    # The neighbour waits only for what was ahead of it in its partition, never crashes.
    neighbour_seen_within(group.workers[0].url, limit_s=60)
    asyncio.run(wait_caught_up(group.bootstrap, group.name, raw))
    check(group, held)


def test_exact_sets_after_a_sigkill_in_the_middle(group: WorkerGroup) -> None:
    associates, disassociate, held = workload(seed=2)
    raw, worker = group.topic("raw-notifications"), group.workers[0]
    asyncio.run(produce(group.bootstrap, raw, associates))
    deadline = time.monotonic() + 60
    while not every_page_started(worker.url) and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.kill()  # while the backlog is being applied: no commit, no flush
    worker.start()
    asyncio.run(produce(group.bootstrap, raw, disassociate))
    group.wait_ready(timeout=180)
    asyncio.run(wait_caught_up(group.bootstrap, group.name, raw, limit_s=180))
    group.wait_ready(timeout=60)
    check(group, held)


def every_page_started(url: str) -> bool:
    status, _ = query(f"{url}/v1/orgs/{BIG}/assignments?adamId={ADAM}&pricingParam=STDQ&limit=1")
    return status == 200
