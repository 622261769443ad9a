"""streams.consumer: the hand-over without wait_first's tasks (the canaries on the
faust-streaming internals it relies on are in test_faustfence.py)."""

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterator

import pytest
from faust.assignor import PartitionAssignor
from faust.types import TP, Message
from faust.types.tuples import ConsumerMessage
from mode.utils.queues import FlowControlEvent

from streams import agents, topics
from streams.app import app
from streams.consumer import DELIVERED, LEASE_POLL_S, SteppingConsumer, stepping
from streams.faustfence import MemoryTables, RocksDBTables, changelog_queue
from streams.lease import Lease
from streams.positions import Take
from streams.tables import asset_counts


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
    """The worker's consumer, with acks on for the test topic (as for an agent's topic),
    the topic without holes, its partition 3 held and sought to offset 5."""
    consumer = app.stepping_consumer
    tp = TP("direct-test", 3)
    acking_topics = app.topics.acking_topics
    acking_topics.add("direct-test")
    held = _assignor()._active_tps
    held.add(tp)
    consumer.without_holes("direct-test")
    consumer.gapless["direct-test"].sought({3: 5})
    sought, consumer._sought = consumer._sought, app.consumer_generation_id
    lease, consumer.lease = consumer.lease, Lease(60.0)
    consumer.lease.renewed()  # a member of the group
    yield consumer
    consumer.lease = lease
    consumer._sought = sought
    consumer.gapless.pop("direct-test")
    consumer._direct.pop("direct-test", None)
    held.discard(tp)
    acking_topics.discard("direct-test")
    consumer._acked.pop(tp, None)
    consumer._acked_index.pop(tp, None)
    consumer._gap.pop(tp, None)


async def _fetched(consumer: SteppingConsumer, message: Message) -> None:
    """What the fetch loop does with a message: the hand-over, awaited."""
    await consumer.callback(message)


@pytest.fixture
def seeks(acking: SteppingConsumer, monkeypatch: pytest.MonkeyPatch) -> list[tuple[TP, int]]:
    """The seeks the consumer makes (none reaches a broker)."""
    made: list[tuple[TP, int]] = []

    async def seek(self: SteppingConsumer, tp: TP, offset: int) -> None:
        made.append((tp, offset))

    monkeypatch.setattr(SteppingConsumer, "seek", seek)
    return made


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
    acking.deliver_directly("direct-test", steps.prepare, steps.process, steps.after)
    message = _message(generation=app.consumer_generation_id - 1)
    await _fetched(acking, message)
    assert steps.seen == [] and not message.acked  # read again after the seek
    assert acking.gapless["direct-test"].read_offset(3) == 5  # still the next one


async def test_direct_delivery_skips_a_message_of_a_partition_no_longer_held(
    acking: SteppingConsumer,
) -> None:
    steps = _Steps(acking)
    _assignor()._active_tps.discard(TP("direct-test", 3))  # moved by a rebalance
    message = _message()
    await acking._deliver(message, steps.prepare, steps.process, steps.after)
    assert steps.seen == ["prepare 5"] and not message.acked


def _before_its_seek(
    consumer: SteppingConsumer,
    monkeypatch: pytest.MonkeyPatch,
    seek_to_committed: Callable[[SteppingConsumer], Awaitable[dict[TP, int]]],
) -> _Steps:
    """`consumer` delivering direct-test directly, partition 3 assigned and committed at
    5, its generation not sought yet; Faust's seek_to_committed is `seek_to_committed`."""
    steps = _Steps(consumer)
    consumer.deliver_directly("direct-test", steps.prepare, steps.process, steps.after)
    consumer._sought = app.consumer_generation_id - 1  # assigned; recovery has not sought yet
    monkeypatch.setattr(SteppingConsumer, "seek_to_committed", seek_to_committed)
    monkeypatch.setattr(SteppingConsumer, "assignment", lambda self: {TP("direct-test", 3)})
    consumer._committed_offset[TP("direct-test", 3)] = 5
    return steps


async def test_nothing_of_a_generation_is_handed_over_before_its_seek(
    acking: SteppingConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def committed(self: SteppingConsumer) -> dict[TP, int]:
        return {}

    steps = _before_its_seek(acking, monkeypatch, committed)
    early = _message(offset=5)
    await _fetched(acking, early)
    assert steps.seen == [] and not early.acked  # fetched again after the seek
    await acking.perform_seek()
    again = _message(offset=5)
    await _fetched(acking, again)
    assert steps.seen == ["prepare 5", "process 5", "after"] and again.acked


async def test_a_record_fetched_while_the_seek_ran_is_fetched_again_after_it(
    acking: SteppingConsumer, seeks: list[tuple[TP, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recovery resumes the flow, then seeks: a record fetched from the committed offset
    before the seek is done is dropped, and the fetch is past it. Nothing later may come
    to show the hole, so the partition is sought back to it once the seek is done."""
    tp = TP("direct-test", 3)

    async def committed(self: SteppingConsumer) -> dict[TP, int]:
        await _fetched(acking, _message(offset=5))  # fetched while Faust's seek runs
        return {}

    steps = _before_its_seek(acking, monkeypatch, committed)
    await acking.perform_seek()
    assert steps.seen == []  # dropped: not of a sought generation when it came
    await asyncio.sleep(0)  # the seek back runs as a task
    assert seeks == [(tp, 5)]
    again = _message(offset=5)
    await _fetched(acking, again)
    assert steps.seen == ["prepare 5", "process 5", "after"] and again.acked


async def test_a_second_seek_in_a_generation_does_not_process_records_again(
    acking: SteppingConsumer, seeks: list[tuple[TP, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faust's fetch loop seeks to the committed offsets whenever it asks for records
    while the flow is off, and recovery seeks once more: records processed between the
    two come again from the committed offset, and are not processed (forwarded) twice."""

    async def committed(self: SteppingConsumer) -> dict[TP, int]:
        await asyncio.sleep(0.01)  # a request to the group coordinator
        return {}

    steps = _before_its_seek(acking, monkeypatch, committed)
    await asyncio.gather(acking.perform_seek(), acking.perform_seek())  # they overlap
    for offset in (5, 6):
        await _fetched(acking, _message(offset=offset))
    await acking.perform_seek()  # recovery's, same generation; the fetch goes back to 5
    for offset in (5, 6, 7):
        await _fetched(acking, _message(offset=offset))
    assert [s for s in steps.seen if s.startswith("process")] == [
        "process 5",
        "process 6",
        "process 7",
    ]
    assert seeks == []  # no hole: nothing sought back


async def test_a_partition_without_a_commit_starts_at_its_first_record(
    acking: SteppingConsumer, seeks: list[tuple[TP, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faust's seek leaves an uncommitted partition where its fetch got to, past what the
    fetch loop dropped while recovery paused it: the worker seeks it to the log start."""
    tp = TP("direct-test", 3)

    async def committed(self: SteppingConsumer) -> dict[TP, int]:
        return {}

    async def earliest(self: SteppingConsumer, *tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, 2)

    monkeypatch.setattr(SteppingConsumer, "seek_to_committed", committed)
    monkeypatch.setattr(SteppingConsumer, "earliest_offsets", earliest)
    monkeypatch.setattr(SteppingConsumer, "assignment", lambda self: {tp})
    acking._committed_offset.pop(tp, None)
    acking._sought = app.consumer_generation_id - 1  # the rebalance's first seek
    await acking.perform_seek()
    assert seeks == [(tp, 2)]
    assert acking.gapless["direct-test"].read_offset(3) == 2
    assert acking.gapless["direct-test"].hand_over(3, 67) is Take.HOLE  # not a start


async def test_a_hole_in_the_fetch_is_not_handed_over_and_the_partition_is_sought_back(
    acking: SteppingConsumer, seeks: list[tuple[TP, int]]
) -> None:
    steps = _Steps(acking)
    acking.deliver_directly("direct-test", steps.prepare, steps.process, steps.after)
    for offset in (5, 8, 9, 6, 6, 7, 8):  # 6 and 7 missing, then fetched again; 6 twice
        await _fetched(acking, _message(offset=offset))
    assert [s for s in steps.seen if s.startswith("process")] == [
        "process 5",
        "process 6",
        "process 7",
        "process 8",
    ]
    await asyncio.sleep(0)  # the seek back runs as a task
    assert seeks == [(TP("direct-test", 3), 6)]  # once, not once per later record
    assert 9 not in acking._acked[TP("direct-test", 3)]


async def test_the_fetch_loop_reads_the_positions_of_a_topic_without_holes(
    acking: SteppingConsumer,
) -> None:
    tp, other = TP("direct-test", 3), TP("another", 3)
    acking._read_offset[tp] = 40  # Faust's writes are ignored for it
    acking._read_offset[other] = 40
    assert acking._read_offset[tp] == 5 and acking._read_offset[other] == 40
    await acking._add_gap(tp, 6, 20)  # never acked: those records are missing, not gone
    await acking._add_gap(other, 6, 20)  # a compacted topic's gap is
    assert not acking._gap[tp] and acking._gap[other]
    acking._read_offset.pop(other)
    acking._gap.pop(other)


async def test_records_lost_from_the_streams_queues_are_fetched_again(
    acking: SteppingConsumer, seeks: list[tuple[TP, int]]
) -> None:
    queued: list[int] = []

    async def conductor(message: Message) -> None:
        queued.append(message.offset)

    routed = acking._routed(conductor)
    for offset in (5, 6, 7):
        await routed(_message(offset=offset))
    assert acking.processing(_message(offset=5))  # the agent took 5; 6 and 7 queued
    app.flow_control.clear()  # what every flow_control.resume() does
    await asyncio.sleep(0)  # the seek back runs as a task
    assert seeks == [(TP("direct-test", 3), 6)]
    await routed(_message(offset=8))  # still in the fetch: dropped, no second seek
    for offset in (6, 7, 8):
        await routed(_message(offset=offset))
    assert queued == [5, 6, 7, 6, 7, 8] and len(seeks) == 1
    assert [acking.processing(_message(offset=o)) for o in (6, 7, 7, 8)] == [
        True,
        True,
        False,  # processed already: not again
        True,
    ]


async def test_a_record_after_a_hole_is_not_processed_by_the_agent_nor_committed(
    acking: SteppingConsumer, seeks: list[tuple[TP, int]]
) -> None:
    assert acking.processing(_message(offset=5))
    late = _message(offset=7)
    acking.track_message(late)  # what Faust's stream does with the events it takes
    assert not acking.processing(late)  # 6 never reached the agent
    assert not acking.ack(late)  # the stream's own ack, after the agent: nothing to commit
    assert 7 not in acking._acked[TP("direct-test", 3)] and late not in acking._unacked_messages
    await asyncio.sleep(0)
    assert seeks == [(TP("direct-test", 3), 6)]


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


async def test_nothing_is_processed_while_the_lease_has_lapsed(
    acking: SteppingConsumer,
) -> None:
    """Cut off from the group coordinator, the worker cannot know whether it still holds
    its partitions: delivery waits until the coordinator counts it in again."""
    clock = [0.0]
    acking.lease = Lease(4.0, lambda: clock[0])
    acking.lease.renewed()
    clock[0] = 4.0  # lapsed: no heartbeat answered for 4 s
    steps = _Steps(acking)
    message = _message()
    task = asyncio.ensure_future(
        acking._deliver(message, steps.prepare, steps.process, steps.after)
    )
    await asyncio.sleep(3 * LEASE_POLL_S)
    assert not task.done() and steps.seen == ["prepare 5"]
    acking.lease.renewed()  # a heartbeat answered
    await asyncio.wait_for(task, 1)
    assert steps.seen == ["prepare 5", "process 5", "after"] and message.acked


async def test_a_rebalance_ends_the_wait_for_the_lease_and_the_record_is_left_alone(
    acking: SteppingConsumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    acking.lease = Lease(4.0, lambda: 10.0)  # never renewed
    message = _message()
    task = asyncio.ensure_future(acking.still_ours(message))
    await asyncio.sleep(2 * LEASE_POLL_S)
    assert not task.done()
    monkeypatch.setattr(app, "consumer_generation_id", app.consumer_generation_id + 1)
    assert await asyncio.wait_for(task, 1) is False
    assert message not in acking._unacked_messages and message.acked  # never committed
    assert 5 not in acking._acked.get(TP("direct-test", 3), [])


async def test_the_routed_callback_sends_other_topics_to_the_conductor(
    acking: SteppingConsumer,
) -> None:
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


def test_the_resume_after_the_seek_keeps_the_standby_records_queued(
    acking: SteppingConsumer,
) -> None:
    """Recovery's last flow_control.resume() comes after Faust started reading the
    standby partitions: their queued records are kept, once; any other clear drops them."""
    queue = app.tables.changelog_queue  # type: ignore[attr-defined]
    flow = app.flow_control
    was_active = flow.is_active()
    spared = acking._spared
    try:
        flow.resume()  # the rebalance's resume after the seek (acking: sought this generation)
        queue.put_nowait("standby record 1")
        queue.put_nowait("standby record 2")
        acking._spared = None
        flow.clear()
        assert [queue.get_nowait(), queue.get_nowait()] == ["standby record 1", "standby record 2"]
        queue.put_nowait("standby record 3")
        flow.clear()  # a second clear in the same generation: not spared again
        assert queue.empty()
        acking._spared = None
        queue.put_nowait("standby record 4")
        flow.suspend()  # partitions being revoked: everything queued is dropped
        flow.clear()
        assert queue.empty()
    finally:
        acking._spared = spared
        if was_active:
            flow.resume()
        else:
            flow.suspend()


@pytest.fixture
def to_recovery(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SteppingConsumer, str]]:
    """The worker's consumer with the RocksDB table store (its changelog events need no
    decoding; none of its databases is opened here), the flow on, recovery's queue
    empty, and the name of asset_counts' changelog topic."""
    monkeypatch.setattr(app, "table_store", RocksDBTables())
    flow = app.flow_control
    was_active = flow.is_active()
    flow.resume()
    queue = changelog_queue(app)
    yield app.stepping_consumer, asset_counts.changelog_topic.get_topic_name()
    while not queue.empty():
        queue.get_nowait()
    queue.maybe_endorse_pressure_drop()  # empty: any pressure of these tests is over
    if not was_active:
        flow.suspend()


async def test_a_changelog_record_goes_to_recoverys_queue_without_the_conductor(
    to_recovery: tuple[SteppingConsumer, str],
) -> None:
    consumer, changelog = to_recovery
    calls: list[str] = []

    async def conductor(message: Message) -> None:
        calls.append(message.topic)

    message = _message(topic=changelog)
    await consumer._routed(conductor)(message)
    event = changelog_queue(app).get_nowait()
    assert calls == [] and event.message is message
    assert (event.key, event.value) == (b"k", b"v")  # the record's bytes: RocksDB writes them


async def test_the_conductor_takes_a_changelog_record_when_the_direct_way_cannot(
    to_recovery: tuple[SteppingConsumer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer, changelog = to_recovery
    queue = changelog_queue(app)
    assert not consumer._to_recovery(_message(topic="not-a-changelog"))
    app.flow_control.suspend()  # a rebalance: the conductor waits for the flow
    assert not consumer._to_recovery(_message(topic=changelog))
    app.flow_control.resume()
    monkeypatch.setattr(queue, "full", lambda: True)  # the conductor waits for room
    assert not consumer._to_recovery(_message(topic=changelog))
    monkeypatch.undo()
    monkeypatch.setattr(app, "table_store", MemoryTables())  # values must be decoded
    assert not consumer._to_recovery(_message(topic=changelog))
    assert queue.empty()


async def test_a_filling_recovery_queue_stops_the_fetch_of_the_partition_as_the_conductors_does(
    to_recovery: tuple[SteppingConsumer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer, changelog = to_recovery
    queue = changelog_queue(app)
    full: list[TP] = []
    dropped: list[TP] = []
    monkeypatch.setattr(consumer, "on_buffer_full", full.append)
    monkeypatch.setattr(consumer, "on_buffer_drop", dropped.append)
    message = _message(topic=changelog)
    for _ in range(queue.pressure_high_size + 1):
        assert consumer._to_recovery(message)
    assert full == [message.tp] and dropped == []
    while not queue.empty():
        await queue.get()  # Faust's get calls the drop callbacks once it is empty
    assert dropped == [message.tp]
