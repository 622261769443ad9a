"""The worker's log lines about a record carry the gateway's request id and tenant, and
where the record is (topic, partition, offset); its traceparent rides on to the outputs."""

import logging
from typing import Any

import pytest

from schemas import headers as h
from streams import agents
from tests.unit.streams.support import Recorder, example_bytes, gateway_headers

TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def about(caplog: pytest.LogCaptureFixture, msg: str) -> dict[str, Any]:
    [record] = [r for r in caplog.records if r.name == agents.log.name and r.msg == msg]
    fields: dict[str, Any] = record.fields  # type: ignore[attr-defined]
    return fields


def where(event: Any) -> dict[str, Any]:
    message = event.message
    return {"topic": message.topic, "partition": message.partition, "offset": message.offset}


async def test_a_dead_letter_line_names_the_request_and_the_record(
    send: Any, caplog: pytest.LogCaptureFixture
) -> None:
    event = await send(b"garbage", partition=3)
    fields = about(caplog, "dead letter")
    assert fields["request_id"] == "req-1" and fields["tenant"] == "acme"
    assert fields.items() >= where(event).items()
    assert fields["reason"].startswith("invalid-body")


async def test_a_conflict_line_names_the_request_and_the_record(
    send: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await send(example_bytes("apple_user_management_create"))
    event = await send(example_bytes("apple_user_management_update"))  # same id, other body
    fields = about(caplog, "conflict")
    assert (fields["request_id"], fields["tenant"]) == ("req-1", "acme")
    assert fields.items() >= where(event).items()


async def test_a_duplicate_is_logged_at_debug_with_the_request(
    send: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=agents.log.name)
    await send(example_bytes("apple_asset_count"))
    again = await send(example_bytes("apple_asset_count"))
    fields = about(caplog, "duplicate")
    assert (fields["request_id"], fields["tenant"]) == ("req-1", "acme")
    assert fields.items() >= where(again).items()


async def test_a_record_that_breaks_the_handler_is_logged_with_its_request(
    send: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(agents, "writes_for", broken)
    event = await send(example_bytes("apple_asset_count"))
    fields = about(caplog, "record failed")
    assert (fields["request_id"], fields["tenant"]) == ("req-1", "acme")
    assert fields.items() >= where(event).items()


async def test_the_senders_traceparent_rides_on_to_the_per_type_topic(
    send: Any, produced: Recorder
) -> None:
    headers = [*gateway_headers("apple", 1_700_000_000_000), (h.TRACEPARENT, TRACEPARENT)]
    await send(example_bytes("apple_asset_count"), headers=headers)
    [routed] = produced.to("notifications.asset-count")
    assert routed.header(h.TRACEPARENT) == TRACEPARENT
    assert routed.header(h.REQUEST_ID) == b"req-1"
