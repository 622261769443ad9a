"""Records the worker cannot apply: dead-lettered once, never forwarded, tables untouched,
and a resend of one ends the same way. They come straight from Kafka here: the worker
cannot rely on the gateway having refused them (an old gateway, a producer with write
access to raw-notifications)."""

import json
from typing import Any

import pytest

from schemas import headers as h
from schemas.bounds import INT64_MAX, INT64_MIN
from streams import agents, metrics, updates
from streams.keys import table_key
from streams.tables import asset_counts, seen_notifications, user_status
from tests.examples import example
from tests.unit.streams.support import ACME_UID, Recorder

COUNT_KEY = table_key(ACME_UID, "408709785", "STDQ")
DEAD, ASSET_COUNT = "notifications.dead-letter", "notifications.asset-count"
AT = 1_700_000_000_000


def asset_count(delta: int, notification_id: str = "n-1") -> bytes:
    body = example("apple_asset_count")
    body["notification"]["countDelta"] = delta
    body["notificationId"] = notification_id
    return json.dumps(body).encode()


def reasons(produced: Recorder) -> list[str]:
    return [(r.header(h.DEAD_LETTER_REASON) or b"").decode() for r in produced.to(DEAD)]


def duplicates() -> float:
    return float(metrics.duplicates.labels("ASSET_COUNT")._value.get())


@pytest.mark.parametrize("delta", [2**63, -(2**63) - 1, -(2**64), 10**30])
async def test_a_countdelta_beyond_64_bits_is_dead_lettered_once_and_never_forwarded(
    delta: int, send: Any, produced: Recorder
) -> None:
    body = asset_count(delta)
    await send(body, offset=10, at=AT)
    assert [r.topic for r in produced.routed] == [DEAD]
    [reason] = reasons(produced)
    assert reason.startswith("invalid-body: notification.countDelta: ")
    assert asset_counts.data.data == {}  # type: ignore[attr-defined]
    assert len(seen_notifications.data.data) == 1  # type: ignore[attr-defined]

    before = duplicates()
    await send(body, offset=11, at=AT + 60_000)  # Apple's resend: the same bytes
    await send(body, offset=12, at=AT + 120_000)
    assert [r.topic for r in produced.routed] == [DEAD]
    assert duplicates() == before + 2
    assert asset_counts.data.data == {}  # type: ignore[attr-defined]

    await send(asset_count(-12, "n-2"), offset=13, at=AT + 180_000)  # the partition goes on
    assert [r.topic for r in produced.routed] == [DEAD, ASSET_COUNT]
    assert asset_counts.data.data[COUNT_KEY]["count"] == -12  # type: ignore[attr-defined]


@pytest.mark.parametrize(("bound", "step"), [(INT64_MAX, 1), (INT64_MIN, -1)])
async def test_an_asset_count_leaving_64_bits_is_dead_lettered_not_forwarded(
    bound: int, step: int, send: Any, produced: Recorder
) -> None:
    await send(asset_count(bound, "n-1"), offset=10, at=AT)
    overflowing = asset_count(step, "n-2")
    await send(overflowing, offset=11, at=AT + 1_000)
    assert [r.topic for r in produced.routed] == [ASSET_COUNT, DEAD]
    [reason] = reasons(produced)
    assert reason == f"cannot-apply: the asset count would be {bound + step}, beyond signed 64 bits"
    assert produced.to(DEAD)[0].value == overflowing
    value = asset_counts.data.data[COUNT_KEY]  # type: ignore[attr-defined]
    assert (value["count"], value["offset"]) == (bound, 10)

    await send(overflowing, offset=12, at=AT + 2_000)  # its resend
    assert [r.topic for r in produced.routed] == [ASSET_COUNT, DEAD]
    await send(asset_count(-step, "n-3"), offset=13, at=AT + 3_000)
    assert asset_counts.data.data[COUNT_KEY]["count"] == bound - step  # type: ignore[attr-defined]


async def test_a_table_value_the_store_cannot_encode_stops_the_whole_record(
    send: Any, produced: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All or nothing: the second user's value cannot be stored, so neither user is
    written and nothing is forwarded."""
    real = updates.apply_user

    def unstorable_for_200(old: Any, **kwargs: Any) -> Any:
        new = real(old, **kwargs)
        if new is None or kwargs["user"].clientUserId != "client-200":
            return new
        return {**new, "n": 2**64}

    monkeypatch.setattr(updates, "apply_user", unstorable_for_200)
    body = example("apple_user_associated")
    second = {**body["notification"]["associatedUsers"][0], "clientUserId": "client-200"}
    body["notification"]["associatedUsers"].append(second)
    await send(json.dumps(body).encode(), offset=10, at=AT)
    assert [r.topic for r in produced.records] == [DEAD, "switchboard-seen_notifications-changelog"]
    [reason] = reasons(produced)
    assert reason.startswith("cannot-apply: user_status ") and "64-bit" in reason
    assert user_status.data.data == {}  # type: ignore[attr-defined]


async def test_an_update_that_raises_is_dead_lettered_and_not_forwarded(
    send: Any, produced: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("boom")

    with monkeypatch.context() as patched:
        patched.setattr(updates, "add_count", broken)
        await send(asset_count(-12), offset=10, at=AT)
    assert [r.topic for r in produced.routed] == [DEAD]
    assert reasons(produced) == ["internal-error: ZeroDivisionError: boom"]
    assert asset_counts.data.data == {}  # type: ignore[attr-defined]


async def test_a_refused_record_whose_dead_letter_fails_is_not_remembered(
    send: Any, produced: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its only trace is then raw-notifications: a resend must get its own dead letter."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("producer closed")

    body = asset_count(2**63)
    with monkeypatch.context() as patched:
        patched.setattr(agents, "publish", refuse)
        await send(body, offset=10, at=AT)
    assert seen_notifications.data.data == {}  # type: ignore[attr-defined]
    await send(body, offset=11, at=AT + 60_000)
    assert [r.topic for r in produced.routed] == [DEAD]
    assert produced.to(DEAD)[0].header(h.SOURCE_OFFSET) == b"11"
