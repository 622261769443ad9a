"""Redriven dead letters: ordered by their original offset, applied once (streams.redrive)."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from schemas import headers as h
from schemas.apple import parse_apple
from streams import agents, outputs
from streams.dedupe import Sighting, Verdict
from streams.errors import CannotApplyError, RecordError, RedriveRefusedError
from streams.keys import SERIAL, assignment_key, table_key
from streams.records import Notification, SourceRecord
from streams.redrive import Marker, Origin, judge_redrive, origin_of
from streams.tables import asset_counts, assignment_rows, user_status
from streams.topics import raw_notifications_topic
from streams.updates import changes_for
from tests.unit.streams.support import ACME_UID, Recorder, example_bytes, gateway_headers

AT = 1_700_000_000_000
ASSET = table_key(ACME_UID, "408709785", "STDQ")
SERIALS = [
    "97c42a74-c30e-4172-a65f-6e5a5ba3d477",
    "495622d3-76f1-4fd3-8647-3f0365159170",
    "eabcbb89-8213-4185-afb4-30cae931ea37",
]


def raw_topic() -> str:
    return raw_notifications_topic.get_topic_name()


def redrive_headers(
    offset: int, partition: int = 0, at: int = AT, now: int = AT + 3_600_000
) -> list[tuple[str, bytes]]:
    """What `switchboard dead-letters redrive` sets on the original it publishes again:
    its headers, received-at the redrive's time, and where and when the original was."""
    return [
        *gateway_headers("apple", now),
        (h.REDRIVE_SOURCE, f"{raw_topic()}/{partition}/{offset}".encode()),
        (h.REDRIVE_RECEIVED_AT, str(at).encode()),
    ]


def with_id(body: bytes, notification_id: str, **notification: Any) -> bytes:
    """`body` as another notification, its `notification` fields updated."""
    value = json.loads(body)
    value["notificationId"] = notification_id
    value["notification"].update(notification)
    return json.dumps(value).encode()


@contextmanager
def refused(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Records sent inside are dead-lettered as cannot-apply (a bug since fixed); their
    ids are then remembered by dedupe, as for a real refusal."""

    def refuse(*args: Any) -> Any:
        raise CannotApplyError("refused by a bug since fixed")

    with monkeypatch.context() as patched:
        patched.setattr(agents, "writes_for", refuse)
        yield


async def dead_letter_at(
    send: Any, monkeypatch: pytest.MonkeyPatch, body: bytes, offset: int
) -> None:
    with refused(monkeypatch):
        await send(body, offset=offset, at=AT)


def assigned(serial: str) -> Any:
    key = assignment_key(ACME_UID, "408709785", "STDQ", SERIAL, serial)
    return assignment_rows.data.data.get(key)  # type: ignore[attr-defined]


async def test_an_older_redrive_does_not_undo_a_newer_update_but_fills_what_nothing_changed(
    send: Any, produced: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    associate = example_bytes("apple_asset_management_associate")
    await dead_letter_at(send, monkeypatch, associate, offset=10)
    # Meanwhile the first serial number is taken back: a newer event of the same row.
    newer = json.loads(with_id(associate, "newer", type="DISASSOCIATE"))
    newer["notification"]["assignments"] = newer["notification"]["assignments"][:1]
    await send(json.dumps(newer).encode(), offset=11, at=AT + 1000)
    await send(associate, offset=20, headers=redrive_headers(10))
    assert assigned(SERIALS[0]) == {"assigned": False, "at": AT + 1000, "offset": 11}
    for serial in SERIALS[1:]:  # ordered by the original offset and time
        assert assigned(serial) == {"assigned": True, "at": AT, "offset": 10}
    routed = [r.topic for r in produced.routed]
    assert routed == ["notifications.dead-letter", *["notifications.asset-management"] * 2]


async def test_an_older_redriven_user_update_leaves_the_newer_status(
    send: Any, produced: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    create = example_bytes("apple_user_management_create")
    await dead_letter_at(send, monkeypatch, create, offset=10)
    retire = with_id(example_bytes("apple_user_management_retire"), "newer")
    await send(retire, offset=11, at=AT + 1)
    await send(create, offset=20, headers=redrive_headers(10))
    user = user_status.data.data[table_key(ACME_UID, "client-100")]  # type: ignore[attr-defined]
    assert (user["status"], user["offset"]) == ("Retired", 11)
    forwarded = produced.to("notifications.user-management")
    assert [r.value for r in forwarded] == [retire, create]
    assert forwarded[1].header(h.REDRIVE_SOURCE) == f"{raw_topic()}/0/10".encode()


async def test_a_redriven_delta_is_added_once_under_replay_and_a_second_redrive(
    send: Any, produced: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    delta = example_bytes("apple_asset_count")  # -12
    await dead_letter_at(send, monkeypatch, delta, offset=10)
    await send(with_id(delta, "newer", countDelta=5), offset=11, at=AT + 1)
    await send(delta, offset=20, headers=redrive_headers(10))  # deltas commute: added
    outputs.watermarks.forget([0])  # a crash before shipping: marks read again, not held
    await send(delta, offset=20, headers=redrive_headers(10))
    await send(delta, offset=21, headers=redrive_headers(10))  # the operator redrove twice
    value = asset_counts.data.data[ASSET]  # type: ignore[attr-defined]
    assert (value["count"], value["offset"]) == (-7, 20)
    # The replay is forwarded again as any replay its topic does not hold yet; the
    # second redrive is a duplicate.
    forwarded = produced.to("notifications.asset-count")
    assert [r.header(h.SOURCE_OFFSET) for r in forwarded] == [b"11", b"20", b"20"]


async def test_a_redrive_dead_lettered_again_can_be_redriven_again(
    send: Any, produced: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    delta = example_bytes("apple_asset_count")
    await dead_letter_at(send, monkeypatch, delta, offset=10)
    with refused(monkeypatch):
        await send(delta, offset=20, headers=redrive_headers(10))
    await send(delta, offset=30, headers=redrive_headers(10))
    assert asset_counts.data.data[ASSET]["count"] == -12  # type: ignore[attr-defined]
    assert [r.topic for r in produced.routed] == [
        "notifications.dead-letter",
        "notifications.dead-letter",
        "notifications.asset-count",
    ]


async def test_a_redrive_in_another_partition_than_its_original_is_refused(
    send: Any, produced: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    delta = example_bytes("apple_asset_count")
    await dead_letter_at(send, monkeypatch, delta, offset=10)
    await send(delta, partition=3, offset=20, headers=redrive_headers(10, partition=0))
    dead = produced.to("notifications.dead-letter")
    assert len(dead) == 2 and dead[1].partition == 3
    reason = dead[1].header(h.DEAD_LETTER_REASON) or b""
    assert reason.startswith(b"redrive-refused: redriven from ")
    assert ASSET not in asset_counts.data.data  # type: ignore[attr-defined]


def record(headers: list[tuple[str, bytes]], partition: int = 0, offset: int = 20) -> SourceRecord:
    return SourceRecord(None, b"{}", tuple(headers), raw_topic(), partition, offset, AT + 5, "sha")


def test_origin_of_reads_the_redrive_headers() -> None:
    assert origin_of(record(gateway_headers("apple", AT))) is None
    assert origin_of(record(redrive_headers(10, at=AT))) == Origin(0, 10, AT)
    no_time = [(k, v) for k, v in redrive_headers(10) if k != h.REDRIVE_RECEIVED_AT]
    assert origin_of(record(no_time)) == Origin(0, 10, AT + 5)  # the redrive's own


@pytest.mark.parametrize(
    ("source", "partition", "offset", "says"),
    [
        ("raw-notifications/0/10", 1, 20, "partitions added since?"),
        ("elsewhere/0/10", 0, 20, "cannot be ordered"),
        ("raw-notifications/0/20", 0, 20, "is not before this record"),
        ("raw-notifications/0/x", 0, 20, "is not topic/partition/offset"),
        ("nonsense", 0, 20, "is not topic/partition/offset"),
        ("raw-notifications/0/-1", 0, 20, "is not topic/partition/offset: a negative number"),
        ("raw-notifications/-1/5", 0, 20, "is not topic/partition/offset: a negative number"),
        ("raw-notifications/0/+5", 0, 20, "is not topic/partition/offset"),
        ("raw-notifications/0/1_0", 0, 20, "is not topic/partition/offset"),
    ],
)
def test_origin_of_refuses_a_position_that_cannot_order_the_redrive(
    source: str, partition: int, offset: int, says: str
) -> None:
    headers = [(h.REDRIVE_SOURCE, source.replace("raw-notifications", raw_topic()).encode())]
    with pytest.raises(RedriveRefusedError, match=says.replace("?", r"\?")):
        origin_of(record(headers, partition, offset))


ORIGIN = Origin(0, 10, AT)
CURRENT = Sighting("sha", 0, 20, AT)


@pytest.mark.parametrize(
    ("marker", "first", "verdict"),
    [
        (None, None, Verdict.NEW),  # the original was not identified
        (None, Sighting("sha", 0, 10, AT), Verdict.NEW),  # only the dead-lettered original
        (None, Sighting("sha", 0, 12, AT + 60_000), Verdict.DUPLICATE),  # a resend applied
        (None, Sighting("other", 0, 12, AT), Verdict.CONFLICT),
        (Marker(CURRENT, dead=False), Sighting("sha", 0, 10, AT), Verdict.REPLAY),
        (Marker(Sighting("sha", 0, 15, AT), dead=False), None, Verdict.DUPLICATE),
        (Marker(Sighting("sha", 0, 15, AT), dead=True), None, Verdict.NEW),
    ],
)
def test_judge_redrive(marker: Marker | None, first: Sighting | None, verdict: Verdict) -> None:
    assert judge_redrive(marker, first, CURRENT, ORIGIN, window_ms=3_600_000) is verdict


def notification(name: str) -> Notification:
    env = parse_apple(example_bytes(name))
    return Notification("apple", env.uId, env.notificationId, env.notificationType, env)


def test_changes_for_orders_rows_by_the_origin_and_asset_counts_by_the_offset() -> None:
    [user] = changes_for(notification("apple_user_management_create"), 20, AT, origin=10)
    assert user.update({"status": "Retired", "offset": 11}) is None
    assert user.update({"status": "Registered", "offset": 9}) is not None
    [count] = changes_for(notification("apple_asset_count"), 20, AT, origin=10)
    assert count.update({"count": 5, "offset": 11}) == {
        "uId": ACME_UID,
        "adamId": "408709785",
        "pricingParam": "STDQ",
        "count": -7,
        "offset": 20,
    }


def test_every_dead_letter_kind_is_in_the_contract() -> None:
    """`dead-letters --reason` accepts the kinds of schemas.headers: none may be missing."""
    kinds = {cls.kind for cls in RecordError.__subclasses__()} | {"internal-error"}
    assert kinds == set(h.DEAD_LETTER_KINDS)
