"""SIGKILL under load: no update lost, none applied twice.

Two workers consume a stream of thousands of ASSET_COUNT deltas, some of them repeated
(Apple's retries: the same bytes again, sometimes thousands of records later). While the
stream flows, workers are killed with SIGKILL three times and restarted at once; one kill
may land while a worker is still recovering from the previous one. When the group has
committed everything, every count must equal the sum of the distinct deltas, exactly,
and every distinct notification must be on notifications.asset-count exactly once, with
the offset of its first raw record as its source offset (streams.watermarks).
"""

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from schemas import headers as h
from tests.integration.streams_fixtures import (
    WorkerGroup,
    consume,
    gateway_headers,
    query,
    wait_caught_up,
)

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

UIDS = [str(7000000000000000 + i * 104729) for i in range(40)]
ADAMS = ["11", "22", "33", "44", "55"]
DISTINCT, REPEAT_RATIO, RATE = 6000, 0.15, 400  # records/s
KILLS = ((0.30, 0), (0.60, 1), (0.75, 0))  # (fraction of the stream sent, worker index)


@pytest.fixture(scope="module", params=["direct", "stream"])
def group(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[WorkerGroup]:
    """Two workers, raw-notifications delivered directly (the default) or through Faust's
    stream and agent (SWITCHBOARD_DIRECT_DELIVERY=false): each path must survive this."""
    direct = "true" if request.param == "direct" else "false"
    with WorkerGroup(
        kafka_bootstrap,
        Path(tmp_path_factory.mktemp(f"streams-crash-{request.param}")),
        uids=UIDS,
        extra_env={"SWITCHBOARD_DIRECT_DELIVERY": direct},
    ).running(2) as workers:
        yield workers


def stream(seed: int = 4) -> tuple[list[tuple[str, bytes]], dict[tuple[str, str], int]]:
    """The records to send (key, body), repeats included, and the expected counts."""
    rng = random.Random(seed)
    records: list[tuple[str, bytes]] = []
    expected: dict[tuple[str, str], int] = {}
    for i in range(DISTINCT):
        uid, adam, delta = rng.choice(UIDS), rng.choice(ADAMS), rng.randint(-9, 30)
        body = {
            "notification": {"adamId": adam, "countDelta": delta, "pricingParam": "STDQ"},
            "notificationId": f"n-{i}",
            "notificationType": "ASSET_COUNT",
            "uId": uid,
        }
        records.append((uid, json.dumps(body).encode()))
        expected[(uid, adam)] = expected.get((uid, adam), 0) + delta
        if rng.random() < REPEAT_RATIO:
            records.append(records[rng.randrange(max(0, len(records) - 3000), len(records))])
    return records, expected


async def send_while_killing(group: WorkerGroup, records: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=group.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    kills = list(KILLS)
    started = time.monotonic()
    try:
        for sent, (key, body) in enumerate(records):
            if kills and sent >= kills[0][0] * len(records):
                worker = group.workers[kills.pop(0)[1]]
                worker.kill()  # SIGKILL: no commit, no flush, no goodbye to the group
                worker.start()
            await producer.send(
                group.topic("raw-notifications"),
                body,
                key=key.encode(),
                headers=gateway_headers("apple"),
            )
            delay = started + sent / RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await producer.flush()
    finally:
        await producer.stop()


def counts(url: str) -> dict[tuple[str, str], int]:
    got: dict[tuple[str, str], int] = {}
    for uid in UIDS:
        status, rows = query(f"{url}/v1/orgs/{uid}/asset-counts")
        assert status == 200, (uid, status, rows)
        got.update({(uid, row["adamId"]): row["count"] for row in rows})
    return got


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_sigkill_under_load_loses_nothing_and_applies_nothing_twice(group: WorkerGroup) -> None:
    records, expected = stream()
    asyncio.run(send_while_killing(group, records))
    group.wait_ready(timeout=180)
    asyncio.run(
        wait_caught_up(group.bootstrap, group.name, group.topic("raw-notifications"), limit_s=180)
    )
    group.wait_ready(timeout=180)
    for worker in group.workers:
        got = counts(worker.url)
        wrong = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
        assert not wrong, f"{len(wrong)} counts differ (got, expected): {list(wrong.items())[:5]}"
        assert set(got) == set(expected)

    routed = asyncio.run(
        consume(
            group.bootstrap,
            group.topic("notifications.asset-count"),
            at_least=DISTINCT,
            idle_s=3,
            limit_s=120,
        )
    )
    copies = Counter(json.loads(r.value)["notificationId"] for r in routed)
    repeated = {i: n for i, n in copies.items() if n > 1}
    assert not repeated, f"{len(repeated)} ids forwarded more than once: {list(repeated)[:5]}"
    assert set(copies) == {f"n-{i}" for i in range(DISTINCT)}
    raw = asyncio.run(consume(group.bootstrap, group.topic("raw-notifications"), idle_s=2))
    first_offset: dict[str, int] = {}
    for record in sorted(raw, key=lambda r: r.offset):
        first_offset.setdefault(json.loads(record.value)["notificationId"], record.offset)
    for record in routed:
        assert (
            dict(record.headers)[h.SOURCE_OFFSET]
            == str(first_offset[json.loads(record.value)["notificationId"]]).encode()
        )
