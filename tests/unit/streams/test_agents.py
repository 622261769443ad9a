"""route_notifications under Faust's test context: routing, dedupe, conflicts, dead letters."""

import asyncio
import json
from typing import Any

import pytest
from faust.types import TP

from schemas import headers as h
from schemas import topics as names
from streams import agents, metrics, outputs
from streams.app import app, settings
from streams.keys import SERIAL, key_parts, key_prefix, table_key
from streams.tables import asset_counts, assignment_rows, last_tests, tenant_urls, user_status
from streams.topics import raw_notifications_topic
from tests.unit.streams.support import (
    ACME_TENANT_ID,
    ACME_UID,
    OutputTails,
    Recorder,
    example_bytes,
    gateway_headers,
)

EXAMPLES = {  # example -> (source, key, per-type topic)
    "apple_test_notification": ("apple", ACME_UID, "notifications.test"),
    "apple_asset_count": ("apple", ACME_UID, "notifications.asset-count"),
    "apple_asset_management_associate": ("apple", ACME_UID, "notifications.asset-management"),
    "apple_asset_management_disassociate": ("apple", ACME_UID, "notifications.asset-management"),
    "apple_asset_management_revoke": ("apple", ACME_UID, "notifications.asset-management"),
    "apple_user_management_create": ("apple", ACME_UID, "notifications.user-management"),
    "apple_user_management_update": ("apple", ACME_UID, "notifications.user-management"),
    "apple_user_management_retire": ("apple", ACME_UID, "notifications.user-management"),
    "apple_user_associated": ("apple", ACME_UID, "notifications.user-associated"),
    "app_tenant_rest_url_change": ("app", ACME_TENANT_ID, "notifications.tenant-rest-url-change"),
}


def count(counter: Any, label: str) -> float:
    return float(counter.labels(label)._value.get())


def table_value(table: Any, key: str) -> Any:
    return table.data.data.get(key)


@pytest.mark.parametrize("example", sorted(EXAMPLES))
async def test_each_example_sent_three_times_is_routed_once(
    example: str, send: Any, produced: Recorder
) -> None:
    source, key, topic = EXAMPLES[example]
    for _ in range(3):
        await send(example_bytes(example), key=key, source=source)
    assert [(r.topic, r.key, r.value) for r in produced.routed] == [
        (topic, key.encode(), example_bytes(example))
    ]
    assert produced.routed[0].header(h.SOURCE) == source.encode()
    assert produced.routed[0].header(h.REQUEST_ID) == b"req-1"


async def test_examples_land_in_the_tables(send: Any) -> None:
    for example, (source, key, _) in EXAMPLES.items():
        if "user_management" not in example:  # those three share one notificationId
            await send(example_bytes(example), key=key, source=source)
    assert table_value(asset_counts, table_key(ACME_UID, "408709785", "STDQ"))["count"] == -12
    prefix = key_prefix(ACME_UID, "408709785", "STDQ")
    rows = assignment_rows.data.data.items()  # type: ignore[attr-defined]
    held = [k for k, v in rows if k.startswith(prefix) and v["assigned"]]
    assert len(held) == 3 and all(key_parts(k)[3] == SERIAL for k in held)
    assert table_value(user_status, table_key(ACME_UID, "client-100"))["status"] == "Associated"
    assert table_value(last_tests, table_key(ACME_UID))["notificationId"].startswith("792e327f")
    assert table_value(tenant_urls, table_key(ACME_TENANT_ID))["tenantRestUrl"] == (
        "http://www.tru1.com/test"
    )


async def test_duplicates_are_counted_by_type(send: Any) -> None:
    before = count(metrics.duplicates, "ASSET_COUNT")
    for _ in range(3):
        await send(example_bytes("apple_asset_count"))
    assert count(metrics.duplicates, "ASSET_COUNT") == before + 2
    assert table_value(asset_counts, table_key(ACME_UID, "408709785", "STDQ"))["count"] == -12


async def test_same_id_with_other_content_goes_to_conflicts_with_both_hashes(
    send: Any, produced: Recorder
) -> None:
    before = count(metrics.conflicts, "USER_MANAGEMENT")
    create = await send(example_bytes("apple_user_management_create"))
    update = await send(example_bytes("apple_user_management_update"))  # same notificationId
    conflict = produced.to("notifications.conflicts")
    assert len(conflict) == 1 and conflict[0].value == example_bytes("apple_user_management_update")
    assert conflict[0].header(h.CONFLICT_FIRST_SHA256) == _sha(create).encode()
    assert conflict[0].header(h.CONTENT_SHA256) == _sha(update).encode()
    assert count(metrics.conflicts, "USER_MANAGEMENT") == before + 1
    assert table_value(user_status, table_key(ACME_UID, "client-100"))["status"] == "Registered"


def _sha(event: Any) -> str:
    import hashlib

    return hashlib.sha256(event.message.value).hexdigest()


async def test_unknown_type_goes_to_other_and_changes_no_table(
    send: Any, produced: Recorder
) -> None:
    body = {
        "notification": {"count": 4},
        "notificationId": "s-1",
        "uId": ACME_UID,
        "notificationType": "SUBSCRIPTION_COUNT",
    }
    await send(json.dumps(body).encode())
    assert [r.topic for r in produced.records] == [
        "notifications.other",
        "switchboard-seen_notifications-changelog",
    ]
    assert count(metrics.events, "other") >= 1


@pytest.mark.parametrize(
    ("body", "key", "headers", "reason"),
    [
        (b"garbage", ACME_UID, None, b"invalid-body: (body)"),
        (example_bytes("apple_envelope"), ACME_UID, None, b"invalid-body: notification"),
        (example_bytes("apple_asset_count"), "999", None, b"key-mismatch: "),
        (example_bytes("apple_asset_count"), ACME_UID, [("received-at", b"1")], b"unknown-source"),
    ],
)
async def test_bad_records_go_to_the_dead_letter_topic_with_a_reason(
    body: bytes, key: str, headers: Any, reason: bytes, send: Any, produced: Recorder
) -> None:
    event = await send(body, key=key, headers=headers, partition=5)
    [dead] = produced.routed  # (and the sighting's changelog record, for apple_envelope)
    assert (dead.topic, dead.partition, dead.key, dead.value) == (
        "notifications.dead-letter",
        5,
        key.encode(),
        body,
    )
    assert dead.header(h.DEAD_LETTER_REASON).startswith(reason)  # type: ignore[union-attr]
    position = f"{event.message.topic}/5/{event.message.offset}".encode()
    assert dead.header(h.DEAD_LETTER_SOURCE) == position
    original = headers if headers is not None else gateway_headers("apple", 0)
    assert [k for k, _ in dead.headers[: len(original)]] == [k for k, _ in original]


async def test_a_record_that_breaks_the_handler_is_dead_lettered_and_the_agent_goes_on(
    send: Any, produced: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise ZeroDivisionError("boom")

    with monkeypatch.context() as patched:
        patched.setattr(agents, "writes_for", broken)
        await send(example_bytes("apple_asset_count"))
    await send(example_bytes("apple_test_notification"))
    topics = [r.topic for r in produced.routed]
    assert topics == ["notifications.dead-letter", "notifications.test"]
    reason = produced.to("notifications.dead-letter")[0].header(h.DEAD_LETTER_REASON)
    assert reason == b"internal-error: ZeroDivisionError: boom"


async def test_a_failing_dead_letter_send_does_not_stop_the_agent(
    send: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("producer closed")

    before = metrics.dead_letter_failures._value.get()
    monkeypatch.setattr(agents, "publish", refuse)
    await send(b"garbage")
    await send(b"garbage")
    assert metrics.dead_letter_failures._value.get() == before + 2


async def restart(partition: int) -> None:
    """What a worker sees after a crash: the partition assigned again."""
    tp = TP(raw_notifications_topic.get_topic_name(), partition)
    await outputs.read_assigned(app, {tp}, signal=app.on_partitions_assigned)


async def test_a_replay_its_topic_does_not_hold_is_forwarded_again_but_applied_once(
    send: Any, produced: Recorder, agent: Any
) -> None:
    body = example_bytes("apple_asset_count")
    first = await send(body, offset=10, at=1_700_000_000_000)
    await restart(0)  # a crash before shipping: the topic does not hold it
    await send(body, offset=10, at=1_700_000_000_000)  # the same record again
    await send(body, offset=11, at=1_700_000_060_000)  # Apple's retry
    routed = [r.topic for r in produced.routed]
    assert routed == ["notifications.asset-count", "notifications.asset-count"]
    value = table_value(asset_counts, table_key(ACME_UID, "408709785", "STDQ"))
    assert value == {
        "uId": ACME_UID,
        "adamId": "408709785",
        "pricingParam": "STDQ",
        "count": -12,
        "offset": first.message.offset,
    }


async def test_a_replay_its_topic_already_holds_is_applied_once_and_not_forwarded(
    send: Any, produced: Recorder, output_tails: OutputTails
) -> None:
    body = example_bytes("apple_asset_count")
    before = count(metrics.not_forwarded, "ASSET_COUNT")
    await send(body, offset=10, at=1_700_000_000_000)
    # The worker dies after its records reached the topic, before the offset commit.
    output_tails.marks[0] = {"notifications.asset-count": 10}
    await restart(0)
    await send(body, offset=10, at=1_700_000_000_000)
    await send(body, offset=11, at=1_700_000_060_000)  # Apple's retry: a duplicate
    await send(example_bytes("apple_test_notification"), offset=12)
    assert [r.topic for r in produced.routed] == [
        "notifications.asset-count",
        "notifications.test",
    ]
    assert count(metrics.not_forwarded, "ASSET_COUNT") == before + 1
    assert table_value(asset_counts, table_key(ACME_UID, "408709785", "STDQ"))["count"] == -12
    # Read by the first event (no assignment seen yet), then at the assignment only.
    assert output_tails.reads == [[0], [0]]


async def test_a_record_processed_again_in_the_same_assignment_is_not_forwarded_twice(
    send: Any, produced: Recorder, output_tails: OutputTails
) -> None:
    body = example_bytes("apple_asset_count")
    await send(body, offset=10, at=1_700_000_000_000)
    await send(body, offset=10, at=1_700_000_000_000)  # queued already, not re-read
    assert [r.topic for r in produced.routed] == ["notifications.asset-count"]
    assert output_tails.reads == [[0]]


async def test_marks_are_read_at_assignment_and_forgotten_at_revocation(
    send: Any, output_tails: OutputTails
) -> None:
    raw = raw_notifications_topic.get_topic_name()
    assigned = {TP(raw, 2), TP(raw, 5), TP("switchboard-asset_counts-changelog", 2)}
    await outputs.read_assigned(app, assigned, signal=app.on_partitions_assigned)
    assert output_tails.reads == [[2, 5]]
    await send(example_bytes("apple_test_notification"), partition=2)
    assert output_tails.reads == [[2, 5]]  # known: the event does not wait for a read
    outputs.forget_revoked(app, {TP(raw, 2)}, signal=app.on_partitions_revoked)
    await send(example_bytes("apple_asset_count"), partition=2)
    assert output_tails.reads == [[2, 5], [2]]


async def test_the_producer_learns_every_written_topic_at_assignment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    learned: list[list[str]] = []

    async def learn(topics: list[str]) -> None:
        learned.append(topics)

    monkeypatch.setattr(app.batching_producer, "learn_topics", learn)
    raw = raw_notifications_topic.get_topic_name()
    await outputs.learn_written_topics(app, {TP(raw, 1)}, signal=app.on_partitions_assigned)
    (topics,) = learned
    changelogs = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    outputs_written = {settings.topic(name) for name in outputs.OUTPUT_TOPICS}
    assert set(topics) == outputs_written | changelogs
    assert settings.topic(names.CONFLICTS) in topics and len(changelogs) >= 5


async def test_a_slow_read_at_assignment_is_left_to_the_first_event(
    send: Any, produced: Recorder, output_tails: OutputTails, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def slow(partitions: Any) -> dict[int, dict[str, int]]:
        await asyncio.sleep(10)
        return {}

    monkeypatch.setattr(outputs, "MARKS_AT_ASSIGNMENT_S", 0.05)
    with monkeypatch.context() as patched:
        patched.setattr(outputs.watermarks, "_read", slow)
        raw = raw_notifications_topic.get_topic_name()
        await outputs.read_assigned(app, {TP(raw, 1)}, signal=app.on_partitions_assigned)
    assert 1 not in outputs.watermarks
    output_tails.marks[1] = {"notifications.test": 3}
    await send(example_bytes("apple_test_notification"), partition=1, offset=3)
    assert output_tails.reads == [[1]] and produced.routed == []


async def test_marks_are_kept_per_output_topic_and_partition(
    send: Any, produced: Recorder, output_tails: OutputTails
) -> None:
    output_tails.marks[3] = {"notifications.dead-letter": 7, "notifications.test": 50}
    await send(b"garbage", partition=3, offset=7)  # its dead letter is already there
    await send(b"garbage", partition=3, offset=8)
    await send(example_bytes("apple_asset_count"), partition=3, offset=9)
    await send(example_bytes("apple_test_notification"), partition=4, offset=9)
    assert [(r.topic, r.partition, r.header(h.SOURCE_OFFSET)) for r in produced.routed] == [
        ("notifications.dead-letter", 3, b"8"),
        ("notifications.asset-count", 3, b"9"),
        ("notifications.test", 4, b"9"),
    ]


async def test_every_output_carries_its_source_offset_once(send: Any, produced: Recorder) -> None:
    forged = [*gateway_headers("apple", 1_700_000_000_000), (h.SOURCE_OFFSET, b"999999")]
    await send(example_bytes("apple_asset_count"), offset=42, headers=forged)
    [routed] = produced.routed
    assert [v for k, v in routed.headers if k == h.SOURCE_OFFSET] == [b"42"]


async def test_a_repeat_after_the_window_is_a_new_notification(send: Any) -> None:
    body = example_bytes("apple_asset_count")
    await send(body, at=1_700_000_000_000)
    await send(body, at=1_700_000_000_000 + 3_600_001)
    assert table_value(asset_counts, table_key(ACME_UID, "408709785", "STDQ"))["count"] == -24


async def test_outputs_and_table_updates_keep_the_partition_of_the_event(
    send: Any, produced: Recorder
) -> None:
    await send(example_bytes("apple_asset_management_associate"), partition=6)
    assert {r.partition for r in produced.records} == {6}
    assert {r.topic for r in produced.records} == {
        "notifications.asset-management",
        "switchboard-assignment_rows-changelog",
        "switchboard-seen_notifications-changelog",
    }


async def test_old_sightings_expire_while_events_flow(send: Any, produced: Recorder) -> None:
    for i in range(3):
        body = json.dumps(
            {
                "notification": {},
                "notificationId": f"t-{i}",
                "uId": ACME_UID,
                "notificationType": "TEST_NOTIFICATION",
            }
        ).encode()
        await send(body, at=1_700_000_000_000 + i)
    await send(example_bytes("apple_asset_count"), at=1_700_000_000_000 + 3 * 3_600_000)
    tombstones = [r for r in produced.records if r.value is None]
    assert len(tombstones) == 3
    assert all(r.topic == "switchboard-seen_notifications-changelog" for r in tombstones)
