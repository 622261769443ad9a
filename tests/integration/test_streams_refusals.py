"""Records a real worker cannot apply, written straight to raw-notifications (as an old
gateway or a producer with write access could): one dead letter with a reason, nothing
forwarded, the resend dropped, and the partition goes on with the next good record."""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from streams.keys import partition_for
from tests.integration.streams_fixtures import (
    WorkerGroup,
    consume,
    example_bytes,
    gateway_headers,
    produce,
    query,
    wait_caught_up,
)

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

# 2**63 fits orjson's unsigned range (the worker used to apply it), 10**30 does not (the
# worker used to forward it and dead-letter it as well).
BEYOND_UIDS = {2**63: "5000000000000001", 10**30: "5000000000000003"}
OVERFLOW_UID = "5000000000000002"
INT64_MAX = 2**63 - 1


@pytest.fixture(scope="module")
def group(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerGroup]:
    with WorkerGroup(
        kafka_bootstrap,
        Path(tmp_path_factory.mktemp("streams-refusals")),
        uids=[*BEYOND_UIDS.values(), OVERFLOW_UID, TOO_LARGE_UID, LONG_EMAIL_UID],
    ).running(1) as workers:
        yield workers


def asset_count(uid: str, notification_id: str, delta: int) -> bytes:
    body = json.loads(example_bytes("apple_asset_count"))
    body.update(uId=uid, notificationId=notification_id)
    body["notification"]["countDelta"] = delta
    return json.dumps(body).encode()


def run_through(group: WorkerGroup, records: list[tuple[str, bytes]]) -> list[Any]:
    """Produce with the gateway's headers, then wait until the worker committed them all."""
    raw = [(uid.encode(), body, gateway_headers("apple")) for uid, body in records]
    sent = asyncio.run(produce(group.bootstrap, group.topic("raw-notifications"), raw))
    asyncio.run(wait_caught_up(group.bootstrap, group.name, group.topic("raw-notifications")))
    return sent


def on_topic(group: WorkerGroup, topic: str, uid: str) -> list[Any]:
    got = asyncio.run(consume(group.bootstrap, group.topic(topic), idle_s=1.0))
    return [r for r in got if r.key == uid.encode()]


def counts(group: WorkerGroup, uid: str) -> Any:
    status, body = query(f"{group.workers[0].url}/v1/orgs/{uid}/asset-counts")
    assert status == 200, body
    return body


@pytest.mark.parametrize("delta", sorted(BEYOND_UIDS))
def test_a_countdelta_beyond_64_bits_is_dead_lettered_once_and_the_partition_goes_on(
    group: WorkerGroup, delta: int
) -> None:
    uid = BEYOND_UIDS[delta]
    beyond, good = asset_count(uid, "n-beyond", delta), asset_count(uid, "n-good", 5)
    sent = run_through(group, [(uid, beyond), (uid, beyond), (uid, good)])
    assert len({m.partition for m in sent}) == 1  # one organization, one partition

    [dead] = on_topic(group, "notifications.dead-letter", uid)
    headers = dict(dead.headers)
    assert dead.value == beyond
    assert headers["dead-letter-reason"].startswith(b"invalid-body: notification.countDelta: ")
    assert headers["source-offset"] == str(sent[0].offset).encode()
    assert dead.partition == partition_for(uid.encode(), group.partitions)
    assert [r.value for r in on_topic(group, "notifications.asset-count", uid)] == [good]
    assert counts(group, uid) == [
        {"adamId": "408709785", "pricingParam": "STDQ", "count": 5, "baseline": None}
    ]


def test_an_asset_count_that_would_leave_64_bits_is_dead_lettered_not_forwarded(
    group: WorkerGroup,
) -> None:
    top, over, back = (
        asset_count(OVERFLOW_UID, "n-top", INT64_MAX),
        asset_count(OVERFLOW_UID, "n-over", 1),
        asset_count(OVERFLOW_UID, "n-back", -1),
    )
    sent = run_through(
        group,
        [(OVERFLOW_UID, top), (OVERFLOW_UID, over), (OVERFLOW_UID, over), (OVERFLOW_UID, back)],
    )
    [dead] = on_topic(group, "notifications.dead-letter", OVERFLOW_UID)
    assert dead.value == over
    assert dict(dead.headers)["dead-letter-reason"] == (
        f"cannot-apply: the asset count would be {INT64_MAX + 1}, beyond signed 64 bits".encode()
    )
    assert dict(dead.headers)["source-offset"] == str(sent[1].offset).encode()
    forwarded = on_topic(group, "notifications.asset-count", OVERFLOW_UID)
    assert [r.value for r in forwarded] == [top, back]
    [row] = counts(group, OVERFLOW_UID)
    assert row["count"] == INT64_MAX - 1


TOO_LARGE_UID, LONG_EMAIL_UID = "5000000000000004", "5000000000000005"
BROKER_MAX_MESSAGE_BYTES, PRODUCER_MAX_REQUEST_BYTES = 1_048_588, 1_048_576


def as_large_as_raw_allows(uid: str, headers: list[tuple[str, bytes]]) -> bytes:
    """An ASSET_COUNT that raw-notifications takes (aiokafka's own limit included) but
    whose forward, one header more, passes the broker's max.message.bytes."""
    body = json.loads(asset_count(uid, "n-large", 1))
    body["notification"]["comment"] = ""
    base = len(json.dumps(body).encode())
    for padding in range(PRODUCER_MAX_REQUEST_BYTES - base - 1000, PRODUCER_MAX_REQUEST_BYTES):
        body["notification"]["comment"] = "x" * padding
        value = json.dumps(body).encode()
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(uid.encode(), value, headers)
        if size == PRODUCER_MAX_REQUEST_BYTES:
            return value
    raise AssertionError("no padding gives the size wanted")


def test_a_record_too_large_to_forward_is_dead_lettered_and_the_partition_goes_on(
    group: WorkerGroup,
) -> None:
    uid = TOO_LARGE_UID
    headers = gateway_headers("apple")
    large, good = as_large_as_raw_allows(uid, headers), asset_count(uid, "n-after", 3)
    assert len(large) > BROKER_MAX_MESSAGE_BYTES - 300  # as large as Kafka takes
    raw = [(uid.encode(), large, headers), (uid.encode(), good, gateway_headers("apple"))]
    sent = asyncio.run(produce(group.bootstrap, group.topic("raw-notifications"), raw))
    asyncio.run(wait_caught_up(group.bootstrap, group.name, group.topic("raw-notifications")))

    [dead] = on_topic(group, "notifications.dead-letter", uid)
    fields = dict(dead.headers)
    assert fields["dead-letter-reason"].startswith(b"too-large: ")
    assert fields["dead-letter-source"].endswith(f"/{sent[0].partition}/{sent[0].offset}".encode())
    assert int(fields["dead-letter-omitted-bytes"]) > len(large)
    assert dead.value in (b"", None)
    assert [r.value for r in on_topic(group, "notifications.asset-count", uid)] == [good]
    assert counts(group, uid) == [
        {"adamId": "408709785", "pricingParam": "STDQ", "count": 3, "baseline": None}
    ]


def test_a_string_no_table_row_should_hold_is_refused_and_the_partition_goes_on(
    group: WorkerGroup,
) -> None:
    uid = LONG_EMAIL_UID
    body = json.loads(example_bytes("apple_user_management_create"))
    body.update(uId=uid, notificationId="n-long")
    body["notification"]["users"][0]["email"] = "a" * 500_000 + "@example.com"
    long_email = json.dumps(body).encode()
    good = asset_count(uid, "n-fine", 2)
    run_through(group, [(uid, long_email), (uid, good)])
    [dead] = on_topic(group, "notifications.dead-letter", uid)
    reason = dict(dead.headers)["dead-letter-reason"]
    assert reason.startswith(b"invalid-body: notification.users.0.email: ")
    assert on_topic(group, "notifications.user-management", uid) == []
    status, _ = query(f"{group.workers[0].url}/v1/orgs/{uid}/users/client-100")
    assert status == 404
    assert counts(group, uid) == [
        {"adamId": "408709785", "pricingParam": "STDQ", "count": 2, "baseline": None}
    ]
