"""streams.consumer: the hand-over without wait_first's tasks (the canaries on the
faust-streaming internals it relies on are in test_faustfence.py)."""

import asyncio
import inspect
from collections.abc import Iterator

import pytest
from faust.assignor import PartitionAssignor
from faust.types import TP, Message
from faust.types.tuples import ConsumerMessage
from mode.utils.queues import FlowControlEvent

from streams import agents, topics
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


# Direct delivery (SteppingConsumer.deliver_directly): raw-notifications from the fetch loop.


def _message(topic: str = "direct-test", offset: int = 5, generation: int | None = None) -> Message:
    return ConsumerMessage(
        topic,
        3,
        offset,
        0.0,
        0,
        [],
        b"k",
        b"v",
        None,
        1,
        1,
        TP(topic, 3),
        generation_id=app.consumer_generation_id if generation is None else generation,
    )


def _assignor() -> PartitionAssignor:
    assignor = app.assignor
    assert isinstance(assignor, PartitionAssignor)
    return assignor


class _Steps:
    """prepare/process/after that record what each saw."""

    def __init__(self, consumer: SteppingConsumer) -> None:
        self.consumer = consumer
        self.seen: list[str] = []
        self.acked_when_processed: bool | None = None

    async def prepare(self, message: Message) -> None:
        self.seen.append(f"prepare {message.offset}")

    def process(self, message: Message) -> None:
        self.acked_when_processed = message.acked
        self.seen.append(f"process {message.offset}")

    async def after(self) -> None:
        self.seen.append("after")


@pytest.fixture
def acking() -> Iterator[SteppingConsumer]:
    """The worker's consumer, with acks on for the test topic (as for an agent's topic)."""
    consumer = app.stepping_consumer
    acking_topics = app.topics.acking_topics
    acking_topics.add("direct-test")
    held = _assignor()._active_tps
    held.add(TP("direct-test", 3))
    sought, consumer._sought = consumer._sought, app.consumer_generation_id
    yield consumer
    consumer._sought = sought
    held.discard(TP("direct-test", 3))
    acking_topics.discard("direct-test")
    consumer._acked.pop(TP("direct-test", 3), None)
    consumer._acked_index.pop(TP("direct-test", 3), None)


async def test_direct_delivery_acks_a_message_only_after_it_is_processed(
    acking: SteppingConsumer,
) -> None:
    steps = _Steps(acking)
    message = _message()
    await acking._deliver(message, steps.prepare, steps.process, steps.after)
    assert steps.seen == ["prepare 5", "process 5", "after"]
    assert steps.acked_when_processed is False
    assert message.acked and 5 in acking._acked[TP("direct-test", 3)]


async def test_direct_delivery_skips_a_message_of_an_earlier_generation(
    acking: SteppingConsumer,
) -> None:
    steps = _Steps(acking)
    message = _message(generation=app.consumer_generation_id - 1)
    await acking._deliver(message, steps.prepare, steps.process, steps.after)
    assert steps.seen == [] and not message.acked  # read again after the seek


async def test_direct_delivery_skips_a_message_of_a_partition_no_longer_held(
    acking: SteppingConsumer,
) -> None:
    steps = _Steps(acking)
    _assignor()._active_tps.discard(TP("direct-test", 3))  # moved by a rebalance
    message = _message()
    await acking._deliver(message, steps.prepare, steps.process, steps.after)
    assert steps.seen == ["prepare 5"] and not message.acked


async def test_direct_delivery_processes_nothing_of_a_generation_before_its_seek(
    acking: SteppingConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = _Steps(acking)
    acking._sought = app.consumer_generation_id - 1  # assigned; recovery has not sought yet
    early = _message(offset=5)
    await acking._deliver(early, steps.prepare, steps.process, steps.after)
    assert steps.seen == [] and not early.acked  # fetched again after the seek

    async def committed(self: SteppingConsumer) -> dict[TP, int]:
        return {}

    monkeypatch.setattr(SteppingConsumer, "seek_to_committed", committed)
    await acking.perform_seek()
    again = _message(offset=5)
    await acking._deliver(again, steps.prepare, steps.process, steps.after)
    assert steps.seen == ["prepare 5", "process 5", "after"] and again.acked


async def test_direct_delivery_waits_while_the_flow_is_suspended(
    acking: SteppingConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = FlowControlEvent()  # of this test's loop
    monkeypatch.setattr(app, "flow_control", flow)
    steps = _Steps(acking)
    flow.suspend()
    task = asyncio.ensure_future(
        acking._deliver(_message(), steps.prepare, steps.process, steps.after)
    )
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done() and steps.seen == []
    flow.resume()
    await task
    assert steps.seen == ["prepare 5", "process 5", "after"]


async def test_the_routed_callback_sends_other_topics_to_the_conductor() -> None:
    calls: list[str] = []

    async def conductor(message: Message) -> None:
        calls.append(f"conductor {message.topic}")

    consumer = app.stepping_consumer
    steps = _Steps(consumer)
    routed = consumer._routed(conductor)
    saved = dict(consumer._direct)
    consumer._direct["direct-test"] = (steps.prepare, steps.process, steps.after)
    try:
        await routed(_message(topic="another"))
        await routed(_message(topic="direct-test", generation=-1))  # stale: not processed
    finally:
        consumer._direct.clear()
        consumer._direct.update(saved)
    assert calls == ["conductor another"] and steps.seen == []


def test_the_worker_delivers_raw_notifications_directly() -> None:
    source = topics.raw_notifications_topic.get_topic_name()
    assert app.stepping_consumer._direct[source] == (
        agents.prepare,
        agents.process_message,
        agents.ship_due,
    )
