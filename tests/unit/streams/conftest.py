"""Fixtures of the streams unit tests; what they share is in support.py (imported first:
it sets the environment streams.app reads at import)."""

import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from streams.lease import Lease
from tests.unit.streams.support import (
    ACME_UID,
    TABLES,
    Deduper,
    OutputTails,
    Recorder,
    Redrives,
    agents,
    app,
    gateway_headers,
    outputs,
    seen_notifications,
    settings,
)


@pytest.fixture(autouse=True)
def clean_tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    app.finalize()
    app.flow_control.resume()
    for table in TABLES.values():
        table.data.data.clear()  # type: ignore[attr-defined]
    # A fresh Deduper, as the worker builds it: its expiry progress described the tables
    # just emptied.
    fresh = Deduper(seen_notifications, settings.dedupe_window_s)
    monkeypatch.setattr(agents, "deduper", fresh)
    monkeypatch.setattr(agents, "redrives", Redrives(fresh))
    yield


@pytest.fixture(autouse=True)
def output_tails(monkeypatch: pytest.MonkeyPatch) -> Iterator[OutputTails]:
    """No broker in unit tests: the outputs hold what the test says (nothing by default)."""
    tails = OutputTails()
    monkeypatch.setattr(outputs.watermarks, "_read", tails)
    outputs.watermarks.forget(range(64))
    yield tails
    outputs.watermarks.forget(range(64))


@pytest.fixture
def produced(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(app.producer, "append", recorder.append)
    return recorder


@pytest.fixture
async def agent(produced: Recorder, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """route_notifications under Faust's test context (memory store, no broker), its
    worker a member of the group all along (no coordinator renews the lease here)."""
    lease = Lease(math.inf)
    lease.renewed()
    monkeypatch.setattr(app.stepping_consumer, "lease", lease)
    async with agents.route_notifications.test_context() as test_agent:
        yield test_agent


@pytest.fixture
def send(agent: Any) -> Any:
    """send(body, key=..., source="apple", at=ms, partition=0, offset=None) -> the event."""
    clock = {"now": 1_700_000_000_000}

    async def _send(
        body: bytes,
        *,
        key: str | bytes | None = ACME_UID,
        source: str = "apple",
        at: int | None = None,
        partition: int = 0,
        offset: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        clock["now"] += 1000
        if offset is not None:
            agent.sent_offset = offset
        return await agent.put(
            body,
            key=key.encode() if isinstance(key, str) else key,
            partition=partition,
            headers=headers if headers is not None else gateway_headers(source, at or clock["now"]),
        )

    return _send
