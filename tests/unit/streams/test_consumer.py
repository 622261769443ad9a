"""streams.consumer: the hand-over without wait_first's tasks (the canaries on the
faust-streaming internals it relies on are in test_faustfence.py)."""

import asyncio
import inspect

import pytest

from streams.app import app
from streams.consumer import DELIVERED, SteppingConsumer, stepping


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
