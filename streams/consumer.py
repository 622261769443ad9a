"""The worker's Kafka consumer: Faust's aiokafka consumer, with a cheaper hand-over,
and raw-notifications delivered to the worker straight from the fetch loop.

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

Order without holes. raw-notifications is registered with `without_holes`: the fetch
loop hands over its records, on both paths, only from this generation, after Faust's
seek at the end of the rebalance, and in offset order from the committed offset
(streams.positions); a record past a hole is dropped and its partition sought back, and
so is a partition whose queued records Faust emptied. The agent checks the order again
before it processes a record. Without this, records handed over around a rebalance were
lost and committed past (streams.positions says how).

Direct delivery. A topic registered with `deliver_directly` (raw-notifications, by
streams.agents) skips the conductor, the stream's queue and the stream iterator: its
messages are processed in the fetch loop, one after the other in fetch order, and acked
there. Faust's stream path per message (the conductor's flow-control and producer waits,
a queue put and get, a `sleep(0)` and an async-generator step per event, sensors on the
way in and out) cost about as much CPU as the worker's own work did. What that path
guarantees is kept, here:

- order: the fetch loop takes one message at a time, and the next waits until this one
  is processed (the callback is awaited);
- acks after processing: a message is acked (its offset becomes committable) only after
  `process` returned, which queued its outputs and table writes; Faust's commit flushes
  the producer before it commits (streams.producer), so nothing is committed before it
  is durable. A crash before the ack replays the message;
- rebalances: while Faust suspends the flow (partitions being revoked) delivery waits,
  as the conductor does. Nothing of a new assignment is processed before Faust's
  recovery has sought its partitions to their committed offsets (`perform_seek`, at the
  end of every rebalance; see above), nor one of a partition this worker does not hold
  any more (Faust's stream would process it, after the new owner read its output
  marks: a repeated output): after the assignment, Faust seeks to the committed
  offsets and the message is fetched again;
- a worker cut off from the group: nothing is processed while the lease of its group
  membership has lapsed (streams.lease), on either path; it waits for the coordinator
  to confirm it, or for the rebalance that follows;
- Faust's idle-stream check (the monitor's stream_inbound_time) sees the partition busy.

Changelog records to recovery. Every changelog record a worker reads (a standby
replica's, several per event of each peer, and an active partition's during recovery)
goes to Faust's recovery through one queue (TableManager.changelog_queue). The conductor
puts it there after its own per-message waits (flow control, Faust's producer buffer)
and decoding; here the fetch loop puts it there itself, with the same pressure
callbacks, when the flow is on, the queue has room and the table store needs nothing
decoded (RocksDB writes the record's own bytes), and leaves it to the conductor
otherwise. Recovery then takes the records that came together without a turn of the
event loop each (streams.faustfence.RecoveryAsyncio). Together: a standby replica costs
a worker about half as much CPU per event (docs/benchmarks.md).

Internals used: `Consumer.callback` (what the fetch loop calls), `app.flow_control`,
`app.consumer_generation_id` and `Message.generation_id`, `app.assignor.is_active`,
`Consumer.perform_seek` (called by Faust's recovery), `Consumer.ack`, and the
monitor's `stream_inbound_time`: public names of Faust, relied on all the same, so
tests/unit/streams/test_faustfence.py has a canary for them too.
"""

import asyncio
import logging
import time
import types
from collections.abc import Awaitable, Callable, Generator
from typing import Any, cast

from faust.types import TP, Message
from mode.services import WaitArgT, WaitResults

from streams.faustfence import (
    FencedApp,
    FencedConsumer,
    changelog_queue,
    committed_offset,
    never_committed,
)
from streams.positions import Positions, Take
from streams.stepping import first_step

Callback = Callable[[Message], Awaitable[None]]
Prepare = Callable[[Message], Awaitable[None]]  # before processing; may wait (output marks)
Process = Callable[[Message], None]  # synchronous, never raises for a record
After = Callable[[], Awaitable[None]]  # after the ack; may wait (shipping batches)
log = logging.getLogger(__name__)
LEASE_POLL_S = 0.05  # how often a record waiting for the lease looks again


class _Delivered:
    """What the hand-over returns when its callback finished in its first step."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # never reached: a generator that is already done


DELIVERED = _Delivered()


def stepping(callback: Callback) -> Callable[[Message], Awaitable[Any]]:
    """`callback`, its first step taken at once: DELIVERED if that finished it."""

    def hand_over(message: Message) -> Awaitable[Any]:
        coro = callback(message)
        if not isinstance(coro, types.CoroutineType):
            return coro
        done, rest = first_step(coro)
        return DELIVERED if done else rest

    return hand_over


class SteppingConsumer(FencedConsumer):
    """Faust's aiokafka consumer whose messages are handed over without wait_first's
    tasks when the hand-over does not have to wait (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Before FencedConsumer's __init__, which wraps the callback with hand_over.
        self._direct: dict[str, tuple[Prepare, Process, After]] = {}
        self._sought: int | None = None  # the generation whose partitions were sought
        self._spared: int | None = None  # the generation whose changelog records were kept
        self._seeks: set[asyncio.Task[None]] = set()
        self._seeking = asyncio.Lock()
        # Partitions that dropped a record before the seek of its generation was done.
        self._dropped_before_seek: dict[TP, int] = {}  # -> that generation
        self._changelogs: set[str] | None = None  # the tables' changelog topics, once known
        self._pressure: dict[TP, tuple[Callable[[], None], Callable[[], None]]] = {}
        super().__init__(*args, **kwargs)

    def hand_over(self, callback: Callback) -> Callable[[Message], Awaitable[Any]]:
        return stepping(self._routed(callback))

    def without_holes(self, topic: str) -> None:
        """`topic` (its cluster name) has no holes: its records are handed over and
        processed in offset order, each once per assignment (streams.positions)."""
        self.gapless[topic] = Positions()

    async def perform_seek(self) -> None:
        """Faust's seek of every assigned partition to its committed offset, which its
        recovery does at the end of every rebalance; then this generation's messages
        may be handed over, from those offsets (see _takes)."""
        async with self._seeking:  # the fetch loop's and recovery's may overlap
            await self._perform_seek()

    async def _perform_seek(self) -> None:
        generation = self.app.consumer_generation_id
        again = self._sought == generation
        await super().perform_seek()
        if again:
            # Faust seeks more than once per rebalance: its fetch loop does, whenever it
            # asks for records while the flow is off, and recovery then does once more.
            # Records may have been processed in between: the positions stand, so those
            # the fetch brings again from the committed offset are dropped as seen, not
            # processed (and forwarded) a second time.
            return
        assigned = self.assignment()
        for topic, positions in self.gapless.items():
            committed = {tp: committed_offset(self, tp) for tp in assigned if tp.topic == topic}
            # Without a commit yet, Faust's seek leaves a partition where its fetch got to,
            # and the fetch loop dropped what it fetched while recovery paused it: start
            # it from the log's first record, which is what auto_offset_reset=earliest means.
            fresh = [tp for tp, offset in committed.items() if offset is None]
            if fresh:
                for tp, first in (await self.earliest_offsets(*fresh)).items():
                    await self.seek(tp, first)
                    committed[tp] = first
            positions.sought({tp.partition: offset for tp, offset in committed.items()})
        self._sought = generation
        # A record fetched from the committed offset while this ran was dropped (_takes),
        # and the fetch has gone past it: without a later record to show the hole, its
        # partition would wait for good. Fetch those partitions again from there.
        dropped, self._dropped_before_seek = self._dropped_before_seek, {}
        for tp in [tp for tp, g in dropped.items() if g == generation and tp in assigned]:
            positions = self.gapless[tp.topic]
            self._rewind(tp, positions, positions.read_offset(tp.partition), during_seek=True)

    def processing(self, message: Message) -> bool:
        """Whether the agent processes `message` now: the next offset of its partition
        (True), or one processed already (False). A later one means records were lost
        between the fetch loop and the agent: the partition is sought back to them."""
        positions = self.gapless.get(message.topic)
        if positions is None:
            return True
        decision = positions.process(message.partition, message.offset)
        if decision is Take.HOLE:
            next_one = positions.processed_next(message.partition)
            self._rewind(message.tp, positions, next_one, message)
        if decision is not Take.YES:
            never_committed(self, message)
        return decision is Take.YES

    async def still_ours(self, message: Message) -> bool:
        """Whether `message` may be processed now: of this generation, with the flow on,
        and the group's lease held (streams.lease); while the lease has lapsed, this
        waits for it, or for the rebalance that follows. A message it says False of is
        not processed and never committed here: its partition's owner reads it again."""
        app = self.app
        flow = app.flow_control
        lapsed = False
        while message.generation_id == app.consumer_generation_id and flow.is_active():
            if self._ours_now(message, flow):
                if lapsed:
                    log.warning("group membership confirmed again: processing resumes")
                return True
            age = self.lease.age_s()
            if not lapsed and age is not None:  # not at start: aiokafka renews after a join
                lapsed = True
                log.warning(
                    "group membership not confirmed: processing waits",
                    extra={
                        "fields": {
                            "partition": message.partition,
                            "since_s": round(age, 1),
                        }
                    },
                )
            await asyncio.sleep(LEASE_POLL_S)
        never_committed(self, message)
        return False

    def _ours_now(self, message: Message, flow: Any) -> bool:
        """still_ours' answer when it need not wait: the common case, without a coroutine."""
        return (
            message.generation_id == self.app.consumer_generation_id
            and flow.is_active()
            and self.lease.held()
        )

    def spares_changelogs(self) -> bool:
        """Once per generation, when the flow resumes after Faust's seek of this
        generation (Recovery.on_recovery_completed): the standby records queued by then
        were fetched after Faust sought the standby partitions, and are kept."""
        generation = self.app.consumer_generation_id
        if not (
            self.app.flow_control.is_active()
            and self._sought == generation
            and self._spared != generation
        ):
            return False
        self._spared = generation
        return True

    def on_queues_cleared(self) -> None:
        """Records handed over to the agent's stream and not processed are gone: the fetch
        loop hands them over again, from the first one."""
        for topic, positions in self.gapless.items():
            for partition, offset in positions.queues_cleared().items():
                self._rewind(TP(topic, partition), positions, offset)

    def _takes(self, message: Message, positions: Positions) -> bool:
        """Whether the fetch loop hands `message` over: of this generation, after its
        seek, and the next offset of its partition; a later one means a hole."""
        generation = self.app.consumer_generation_id
        if not message.generation_id == self._sought == generation:
            if message.generation_id == generation:  # before its seek: see perform_seek
                self._dropped_before_seek[message.tp] = generation
            return False  # fetched before a rebalance or before its seek: fetched again
        decision = positions.hand_over(message.partition, message.offset)
        if decision is Take.HOLE:
            self._rewind(message.tp, positions, positions.read_offset(message.partition), message)
        return decision is Take.YES

    def _rewind(
        self,
        tp: TP,
        positions: Positions,
        offset: int | None,
        seen: Message | None = None,
        during_seek: bool = False,
    ) -> None:
        """Seek `tp` back to `offset`, once: the later records already fetched are dropped
        until `offset` comes again. `seen`: the record that showed the hole;
        `during_seek`: records were dropped while Faust's seek ran, a routine case."""
        if offset is None or not positions.rewind(tp.partition, offset):
            return
        fields = {
            "topic": tp.topic,
            "partition": tp.partition,
            "sought": offset,
            "seen": None if seen is None else seen.offset,
        }
        if during_seek:
            log.info(
                "records fetched during the seek: partition sought back", extra={"fields": fields}
            )
        else:
            log.warning("records missing: partition sought back", extra={"fields": fields})
        generation = self.app.consumer_generation_id
        task = asyncio.ensure_future(self._seek_back(tp, positions, offset, generation))
        self._seeks.add(task)
        task.add_done_callback(self._seeks.discard)

    async def _seek_back(self, tp: TP, positions: Positions, offset: int, generation: int) -> None:
        if self.app.consumer_generation_id != generation or self._sought != generation:
            return  # a rebalance came first: its seek put the partition where it belongs
        try:
            await self.seek(tp, offset)
            positions.sought_back(tp.partition, offset)
        except Exception as exc:  # revoked meanwhile: the next assignment seeks it anyway
            log.info(
                "seek back not done",
                extra={"fields": {"partition": tp.partition, "reason": repr(exc)}},
            )

    def deliver_directly(
        self, topic: str, prepare: Prepare, process: Process, after: After
    ) -> None:
        """Messages of `topic` (its cluster name) are processed from the fetch loop: each
        is prepared (awaited), processed, acked, then `after` is awaited."""
        self._direct[topic] = (prepare, process, after)

    def _routed(self, conductor: Callback) -> Callback:
        direct, gapless = self._direct, self.gapless

        async def on_message(message: Message) -> None:
            positions = gapless.get(message.topic)
            if positions is not None and not self._takes(message, positions):
                return
            found = direct.get(message.topic)
            if found is not None:
                await self._deliver(message, *found)
            elif not self._to_recovery(message):
                await conductor(message)

        return on_message

    def _to_recovery(self, message: Message) -> bool:
        """Put a changelog record on recovery's queue as the conductor would, without its
        per-message waits (True); False leaves it to the conductor: not a changelog, the
        flow off (the conductor waits for it), the queue full, or a table store that
        needs the conductor's decoding."""
        changelogs = self._changelogs
        if changelogs is None:
            changelogs = self._changelogs = {
                table.changelog_topic.get_topic_name() for table in self.app.tables.values()
            }
        if message.topic not in changelogs or not self.app.flow_control.is_active():
            return False
        queue = changelog_queue(self.app)
        tables = cast(FencedApp, self.app).table_store
        event = None if queue.full() else tables.changelog_event(self.app, message)
        if event is None:
            return False
        high, drop = self._pressure.get(message.tp) or self._pressure_callbacks(message.tp)
        queue.put_nowait_enhanced(event, on_pressure_high=high, on_pressure_drop=drop)
        return True

    def _pressure_callbacks(self, tp: TP) -> tuple[Callable[[], None], Callable[[], None]]:
        """The conductor's, for a queue filling up (fetch no more of `tp`) and emptying."""
        sensors = self.app.sensors

        def high() -> None:
            sensors.on_topic_buffer_full(tp)
            self.on_buffer_full(tp)

        def drop() -> None:
            self.on_buffer_drop(tp)

        self._pressure[tp] = (high, drop)
        return high, drop

    async def _deliver(
        self, message: Message, prepare: Prepare, process: Process, after: After
    ) -> None:
        app = self.app
        flow = app.flow_control
        if not flow.is_active():
            await flow.acquire()  # partitions being revoked: wait, as the conductor does
        await prepare(message)
        if not (
            (self._ours_now(message, flow) or await self.still_ours(message))
            and self._sought == app.consumer_generation_id
            and app.assignor.is_active(message.tp)
        ):
            # A rebalance began while preparing, or the message was fetched just before
            # one took its partition away and reached us after: not ours to process.
            # The partition's owner, us included, reads it again from the committed offset.
            return
        process(message)
        self.ack(message)  # committable now; the commit flushes the producer first
        inbound = app.monitor.stream_inbound_time
        if inbound is not None:
            inbound[message.tp] = time.monotonic()
        await after()

    async def wait_first(
        self,
        *coros: WaitArgT,
        timeout: Any = None,  # noqa: ASYNC109 - Service.wait_first's signature
    ) -> WaitResults:
        if coros and coros[0] is DELIVERED:
            for other in coros[1:]:  # suspend_flow.wait(): never started, nothing to cancel
                if isinstance(other, types.CoroutineType):
                    other.close()
            # Service.wait_first's answer when its first coroutine is done first.
            if self.stopped_or_crashed():
                return WaitResults([], [], True)
            return WaitResults([DELIVERED], [None], False)
        return await super().wait_first(*coros, timeout=timeout)
