"""The worker's Kafka consumer: Faust's aiokafka consumer, with a cheaper hand-over.

Faust's fetch loop (faust/transport/consumer.py `Consumer._drain_messages`) hands every
fetched message to the streams with

    await self.wait_first(callback(message), self.suspend_flow.wait())

so that a hand-over blocked on a full stream buffer, or on flow control, is given up
when a rebalance suspends the flow (faust-streaming PR 223). Service.wait_first wraps
the callback, the suspend event and the service's own stopped and crashed events in
four tasks and cancels three of them, per message: many times the cost of the hand-over
itself, which nearly always finishes without waiting (the message is put in the
stream's queue).

Here the callback's first step runs right away, in the fetch loop's own task. When it
finishes there, which is what wait_first's callback task would have done in its first
step too, wait_first has nothing to race and answers at once. When it has to wait, the
rest of it goes through Faust's wait_first exactly as before, raced against
suspend_flow and cancelled by it. Message order, acks and offsets are untouched: the
same callback runs, on the same message, in the same order.

This relies on internals of faust-streaming: the fetch loop calls `self.callback(message)`
and passes the result straight to `self.wait_first` as its first argument, and nothing
else on the consumer calls wait_first with it (streams.faustfence; its canaries in
tests/unit/streams/test_faustfence.py fail if an upgrade changes them).
"""

import inspect
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, cast

from faust.types import Message
from mode.services import WaitArgT, WaitResults

from streams.faustfence import FencedConsumer

Callback = Callable[[Message], Awaitable[None]]


class _Delivered:
    """What the hand-over returns when its callback finished in its first step."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # never reached: a generator that is already done


DELIVERED = _Delivered()


async def rest_of(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    """The rest of `coro`, already stepped once, which then yielded `waiting_on` (the
    future it waits for): run by a task as if that task had taken the first step."""
    return await cast(Awaitable[Any], _resume(coro, waiting_on))


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Generator[Any, Any, Any]:
    while True:
        try:
            sent = yield waiting_on
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # a cancellation: into the coroutine, as a task would
            try:
                waiting_on = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                waiting_on = coro.send(sent)
            except StopIteration as stop:
                return stop.value


def stepping(callback: Callback) -> Callable[[Message], Awaitable[Any]]:
    """`callback`, its first step taken at once: DELIVERED if that finished it."""

    def hand_over(message: Message) -> Awaitable[Any]:
        coro = callback(message)
        if not inspect.iscoroutine(coro):
            return coro
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return DELIVERED
        return rest_of(coro, waiting_on)

    return hand_over


class SteppingConsumer(FencedConsumer):
    """Faust's aiokafka consumer whose messages are handed over without wait_first's
    tasks when the hand-over does not have to wait (see the module docstring)."""

    def hand_over(self, callback: Callback) -> Callable[[Message], Awaitable[Any]]:
        return stepping(callback)

    async def wait_first(
        self,
        *coros: WaitArgT,
        timeout: Any = None,  # noqa: ASYNC109 - Service.wait_first's signature
    ) -> WaitResults:
        if coros and coros[0] is DELIVERED:
            for other in coros[1:]:  # suspend_flow.wait(): never started, nothing to cancel
                if inspect.iscoroutine(other):
                    other.close()
            # Service.wait_first's answer when its first coroutine is done first.
            if self.stopped_or_crashed():
                return WaitResults([], [], True)
            return WaitResults([DELIVERED], [None], False)
        return await super().wait_first(*coros, timeout=timeout)
