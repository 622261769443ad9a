"""streams.consumer: the hand-over without wait_first's tasks, and canaries on the
faust-streaming internals it relies on (they fail loudly when an upgrade changes them)."""

import asyncio
import inspect
import re

import pytest
from faust.transport import consumer as faust_consumer

from streams.app import app
from streams.consumer import DELIVERED, SteppingConsumer, stepping


def _code(source: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in source.splitlines())


def test_canary_the_fetch_loop_hands_each_message_to_wait_first_through_self_callback() -> None:
    loop_source = _code(inspect.getsource(faust_consumer.Consumer._drain_messages))
    assert "callback = self.callback" in loop_source, (
        "faust-streaming's Consumer._drain_messages no longer reads self.callback: "
        "streams.consumer.SteppingConsumer's hand-over is not used; review streams/consumer.py"
    )
    handed = re.search(r"await self\.wait_first\(\s*callback\(message\),", loop_source)
    assert handed, (
        "faust-streaming's Consumer._drain_messages no longer calls "
        "self.wait_first(callback(message), ...): review streams/consumer.py"
    )


def test_canary_nothing_else_on_the_consumer_calls_wait_first() -> None:
    module = _code(inspect.getsource(faust_consumer))
    assert module.count("wait_first(") == 1, (
        "faust-streaming's consumer module calls wait_first in more places now: "
        "check that none passes SteppingConsumer's DELIVERED (streams/consumer.py)"
    )


def test_the_worker_app_builds_the_stepping_consumer() -> None:
    assert isinstance(app.consumer, SteppingConsumer)


async def test_a_hand_over_that_does_not_wait_is_delivered_at_once() -> None:
    seen: list[int] = []

    async def callback(message: int) -> None:
        seen.append(message)

    handed = stepping(callback)(7)  # type: ignore[arg-type]
    assert handed is DELIVERED and seen == [7]  # ran before anything was awaited


async def test_a_hand_over_that_waits_finishes_in_a_task_and_can_be_cancelled() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def callback(message: int) -> str:
        steps.append("first")
        got = await gate
        steps.append(got)
        return got

    rest = stepping(callback)(1)  # type: ignore[arg-type]
    assert rest is not DELIVERED and steps == ["first"]
    task = asyncio.ensure_future(rest)
    await asyncio.sleep(0)
    assert not task.done()
    gate.set_result("second")
    assert await task == "second" and steps == ["first", "second"]

    gate2: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    cleaned: list[str] = []

    async def blocked(message: int) -> None:
        try:
            await gate2
        finally:
            cleaned.append("finally")

    task = asyncio.ensure_future(stepping(blocked)(2))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["finally"] and gate2.cancelled()


async def test_an_error_in_the_first_step_is_raised_by_the_hand_over() -> None:
    async def callback(message: int) -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        stepping(callback)(1)  # type: ignore[arg-type]


async def test_wait_first_answers_delivered_without_tasks_and_closes_the_other_waits() -> None:
    consumer = app.consumer
    assert isinstance(consumer, SteppingConsumer)
    other = consumer.suspend_flow.wait()
    before = len(asyncio.all_tasks())
    result = await consumer.wait_first(DELIVERED, other)
    assert result.done == [DELIVERED] and not result.stopped
    assert len(asyncio.all_tasks()) == before
    assert inspect.getcoroutinestate(other) == inspect.CORO_CLOSED
