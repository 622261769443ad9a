"""Records whose outputs Kafka would refuse: dead-lettered once, never half written.

A record in raw-notifications may be as large as the topic allows; its forward carries one
header more, its dead letter two more, so either can pass the output topic's
max.message.bytes. A batch the broker refuses would stop the worker, and every restart
would meet the same record: such records are found before they are queued.
"""

import json
from typing import Any

import pytest

from schemas import headers as h
from streams import outputs
from streams.app import settings
from streams.tables import asset_counts, seen_notifications
from tests.examples import example
from tests.unit.streams.support import ACME_UID, Recorder

DEAD, ASSET_COUNT = "notifications.dead-letter", "notifications.asset-count"
LIMIT = 64 * 1024


@pytest.fixture(autouse=True)
def small_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output topics that take records of LIMIT bytes at most."""
    monkeypatch.setattr(
        outputs, "settings", settings.model_copy(update={"kafka_max_message_bytes": LIMIT})
    )


def asset_count(padding: int, notification_id: str = "n-1") -> bytes:
    """A valid ASSET_COUNT with an extra field of `padding` bytes (Apple adds fields)."""
    body = example("apple_asset_count")
    body["notificationId"] = notification_id
    body["notification"]["comment"] = "x" * padding
    return json.dumps(body).encode()


async def test_a_record_too_large_to_forward_is_dead_lettered_without_its_body(
    send: Any, produced: Recorder
) -> None:
    body = asset_count(LIMIT)
    await send(body, offset=7)
    [dead] = produced.routed
    assert dead.topic == DEAD and dead.value == b"" and dead.key == ACME_UID.encode()
    assert dead.header(h.DEAD_LETTER_REASON).startswith(b"too-large: ")  # type: ignore[union-attr]
    assert dead.header(h.DEAD_LETTER_SOURCE) == b"raw-notifications/0/7"
    assert int(dead.header(h.DEAD_LETTER_OMITTED) or 0) > LIMIT
    assert dead.header(h.SOURCE_OFFSET) == b"7"
    assert asset_counts.data.data == {}  # type: ignore[attr-defined]  # nothing applied

    await send(body, offset=8)  # Apple's resend: a duplicate, dead-lettered once only
    assert len(produced.routed) == 1
    assert len(seen_notifications.data.data) == 1  # type: ignore[attr-defined]

    await send(asset_count(10, "n-2"), offset=9)  # the partition goes on
    assert [r.topic for r in produced.routed] == [DEAD, ASSET_COUNT]


async def test_a_record_whose_forward_fits_but_not_with_the_reason_keeps_what_fits(
    send: Any, produced: Recorder
) -> None:
    """The largest forward that fits is forwarded, with everything it holds."""
    fits = asset_count(LIMIT - 600)
    await send(fits, offset=3)
    assert [(r.topic, r.value) for r in produced.routed] == [(ASSET_COUNT, fits)]


async def test_a_conflict_too_large_to_show_is_dead_lettered(send: Any, produced: Recorder) -> None:
    await send(asset_count(10), offset=1)
    await send(asset_count(LIMIT), offset=2)  # same id, other (huge) content
    assert [r.topic for r in produced.routed] == [ASSET_COUNT, DEAD]
    assert produced.routed[1].header(h.DEAD_LETTER_REASON).startswith(b"too-large")  # type: ignore[union-attr]
