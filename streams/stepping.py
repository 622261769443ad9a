"""Taking a coroutine's first step at once, in the caller's task, and the rest only if
it has to wait.

Awaiting a coroutine through mode's wait_first, or asyncio.wait_for on Python 3.11,
costs tasks and a turn of the event loop even when its first step finishes it. The
worker's hottest awaits nearly always do finish there: a message handed over to the
agent, a changelog record taken from a queue that holds some. Stepping the coroutine
first skips that cost in the common case and changes nothing in the other: what is left
runs in the task that awaits it, as if that task had taken the first step, cancellation
included.
"""

import types
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, cast


def first_step(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """(True, the result) if `coro` finished in its first step, else (False, the rest:
    an awaitable to await in its place)."""
    try:
        waiting_on = coro.send(None)
    except StopIteration as done:
        return True, done.value
    return False, rest_of(coro, waiting_on)


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
