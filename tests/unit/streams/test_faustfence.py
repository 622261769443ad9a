"""Canaries: one per faust-streaming internal streams.faustfence relies on.

Each says which internal broke and where it is used, so that a faust-streaming upgrade
fails here, by name, rather than as lost throughput or a commit before a flush.
"""

import asyncio
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
import rocksdict
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.group_coordinator import GroupCoordinator
from faust import streams as faust_streams
from faust.assignor import PartitionAssignor
from faust.exceptions import NotReady
from faust.stores import memory, rocksdb
from faust.tables import recovery as faust_recovery
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.transport import conductor as faust_conductor
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer
from faust.types import TP
from faust.types.tuples import ConsumerMessage, Message
from mode import Service
from mode.utils.queues import FlowControlEvent

from streams import faustfence
from streams.app import OwnPagesOnly, app
from streams.consumer import DELIVERED, SteppingConsumer
from streams.lease import Lease
from streams.producer import BatchingProducer
from streams.tables import asset_counts

REVIEW = "review streams/faustfence.py"


def _code(function: Any) -> str:
    """The source of `function` without its comments."""
    source = inspect.getsource(function)
    return "\n".join(line.split("#", 1)[0] for line in source.splitlines())


def _keywords(function: Any) -> set[str]:
    return set(re.findall(r"(\w+)=", _code(function)))


# App factories


def test_canary_faust_builds_the_consumer_producer_and_web_from_the_app_factories() -> None:
    assert isinstance(app.consumer, SteppingConsumer), f"App._new_consumer unused: {REVIEW}"
    assert isinstance(app.producer, BatchingProducer), f"App._new_producer unused: {REVIEW}"
    assert isinstance(app.web, OwnPagesOnly), f"App._new_web unused: {REVIEW}"


def test_canary_our_consumer_factory_passes_what_fausts_own_passes() -> None:
    fausts = _keywords(faust.App._new_consumer)
    assert fausts == {"callback", "on_partitions_revoked", "on_partitions_assigned", "beacon"}, (
        f"faust.App._new_consumer now passes {sorted(fausts)}: FencedApp._new_consumer must "
        f"pass the same ({REVIEW})"
    )
    assert _keywords(faustfence.FencedApp._new_consumer) == fausts | {"loop"}
    assert callable(app._on_partitions_revoked) and callable(app._on_partitions_assigned)


def test_canary_fausts_assignment_handler_ends_with_the_assigned_signal() -> None:
    """FencedApp.assignment_handled turns true after Faust's handler, receivers included."""
    assert list(inspect.signature(faust.App._on_partitions_assigned).parameters) == [
        "self",
        "assigned",
        "generation_id",
    ], f"faust.App._on_partitions_assigned changed its arguments: {REVIEW}"
    assert "await T(self.on_partitions_assigned.send)(assigned)" in _code(
        faust.App._on_partitions_assigned
    ), f"faust.App._on_partitions_assigned no longer awaits its signal: {REVIEW}"


async def test_an_assignment_is_handled_once_fausts_handler_and_its_receivers_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bool] = []

    async def fausts(self: faust.App, assigned: set[TP], generation_id: int = 0) -> None:
        seen.append(app.assignment_handled)

    monkeypatch.setattr(faust.App, "_on_partitions_assigned", fausts)
    monkeypatch.setattr(app, "assignment_handled", True)
    await app._on_partitions_assigned({TP("t", 0)}, 3)
    assert seen == [False] and app.assignment_handled


async def test_an_assignment_that_crashed_does_not_keep_the_worker_unready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def fausts(self: faust.App, assigned: set[TP], generation_id: int = 0) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(faust.App, "_on_partitions_assigned", fausts)
    with pytest.raises(RuntimeError):
        await app._on_partitions_assigned(set(), 1)
    assert app.assignment_handled


@pytest.mark.parametrize(
    ("ours", "fausts", "overrides"),
    [
        (
            faustfence.FencedApp,
            faust.App,
            {"_new_consumer", "_new_producer", "_new_web", "_on_partitions_assigned"},
        ),
        (
            faustfence.FencedConsumer,
            faust_aiokafka.Consumer,
            {"_add_gap", "_new_consumer_thread", "seek"},
        ),
        (
            faustfence.LeasedConsumerThread,
            faust_aiokafka.AIOKafkaConsumerThread,
            {"on_start", "_create_worker_consumer"},
        ),
        (faustfence.FencedProducer, faust_aiokafka.Producer, {"_settings_extra"}),
        (
            SteppingConsumer,
            faust_aiokafka.Consumer,
            {"wait_first", "perform_seek", "seek", "_add_gap", "_new_consumer_thread"},
        ),
        (BatchingProducer, faust_aiokafka.Producer, {"flush", "_settings_extra"}),
    ],
)
def test_our_subclasses_override_only_the_names_they_mean_to(
    ours: type, fausts: type, overrides: set[str]
) -> None:
    """A name we add that Faust or mode already has (Service.started, say) changes what
    they do with it: each override must be on purpose."""
    added = {
        name
        for klass in ours.__mro__[: ours.__mro__.index(fausts)]
        for name in vars(klass)
        if not (name.startswith("__") and name.endswith("__"))
    }
    added -= {"logger", "_abc_impl"}  # set on every subclass by mode and abc
    assert {name for name in added if hasattr(fausts, name)} == overrides


def test_the_table_store_is_chosen_once_from_the_store_url() -> None:
    assert isinstance(faustfence.table_store_for("rocksdb://"), faustfence.RocksDBTables)
    assert isinstance(faustfence.table_store_for("memory://"), faustfence.MemoryTables)
    assert isinstance(app.table_store, faustfence.MemoryTables)  # SWITCHBOARD_STORE=memory://
    with pytest.raises(ValueError, match="aerospike"):
        faustfence.table_store_for("aerospike://")


# Consumer


def test_canary_the_fetch_loop_hands_each_message_to_wait_first_through_self_callback() -> None:
    loop_source = _code(faust_consumer.Consumer._drain_messages)
    assert "callback = self.callback" in loop_source, (
        "faust-streaming's Consumer._drain_messages no longer reads self.callback: "
        "SteppingConsumer's hand-over (FencedConsumer.hand_over) is not used; "
        "review streams/consumer.py"
    )
    handed = re.search(r"await self\.wait_first\(\s*callback\(message\),", loop_source)
    assert handed, (
        "faust-streaming's Consumer._drain_messages no longer calls "
        "self.wait_first(callback(message), ...): review streams/consumer.py"
    )


def test_canary_fausts_seek_calls_aiokafka_from_the_event_loops_thread() -> None:
    """FencedConsumer.seek does what Consumer.seek does, in the consumer's thread."""
    assert "self._read_offset[ensure_TP(partition)] = offset if offset else None" in _code(
        faust_consumer.Consumer.seek
    ), f"faust-streaming's Consumer.seek changed: FencedConsumer.seek copies it; {REVIEW}"
    assert "self._thread.seek(partition, offset)" in _code(
        faust_consumer.ThreadDelegateConsumer._seek
    ), f"faust-streaming's seek no longer goes straight to the thread's consumer; {REVIEW}"


async def test_a_seek_is_made_in_the_consumers_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = app.stepping_consumer
    calls: list[tuple[str, Any]] = []

    async def call_thread(method: Any, *args: Any) -> None:
        calls.append(("in the thread", args))

    monkeypatch.setattr(consumer._thread, "call_thread", call_thread)
    monkeypatch.setattr(consumer._thread, "_ensure_consumer", lambda: SimpleNamespace(seek=None))
    tp = TP("seek-test", 1)
    monkeypatch.setitem(consumer._read_offset, tp, None)  # put back as it was afterwards
    await consumer.seek(tp, 42)
    assert calls == [("in the thread", (tp, 42))]
    assert consumer._read_offset[tp] == 42


def test_canary_the_fetch_loop_reads_and_writes_its_positions_through_read_offset() -> None:
    """streams.positions serves the read offsets of raw-notifications through
    faustfence.ReadOffsets: the fetch loop must use its item methods, and only call
    _add_gap (which FencedConsumer turns off for that topic) to ack a gap."""
    loop_source = _code(faust_consumer.Consumer._drain_messages)
    for bound in (
        "get_read_offset = self._read_offset.__getitem__",
        "set_read_offset = self._read_offset.__setitem__",
        "await self._add_gap(tp, r_offset + 1, offset)",
        "offset >= r_offset",
    ):
        assert bound in loop_source, (
            f"faust-streaming's Consumer._drain_messages no longer has {bound!r}: the "
            "worker's own positions (streams.positions) may not be what it hands over; "
            "review streams/faustfence.py ReadOffsets and FencedConsumer._add_gap"
        )
    assert list(inspect.signature(faust_consumer.Consumer._add_gap).parameters) == [
        "self",
        "tp",
        "offset_from",
        "offset_to",
    ]


def test_canary_resuming_the_flow_empties_the_streams_queues_through_clear() -> None:
    """FencedConsumer learns that queued records are gone by wrapping
    app.flow_control.clear, which FlowControlEvent.resume calls."""
    flow = FlowControlEvent(initially_suspended=False)
    calls: list[str] = []
    flow.clear = lambda: calls.append("clear")  # type: ignore[method-assign]
    flow.resume()
    assert calls == ["clear"], (
        "mode's FlowControlEvent.resume no longer calls self.clear(): the worker does not "
        "learn that the streams' queues were emptied; review FencedConsumer.__init__"
    )
    changelogs = TableManager.changelog_queue.fget(app.tables)  # type: ignore[attr-defined]
    assert changelogs._clear_on_resume and changelogs in app.flow_control._queues, (
        "the tables' changelog_queue is no longer emptied by flow_control: review "
        "FencedConsumer._changelog_events_kept"
    )
    app.flow_control.clear()  # the worker's own, wrapped: still empties its queues
    assert isinstance(app.stepping_consumer.gapless, dict)


def test_canary_an_acked_message_is_not_acked_again() -> None:
    """faustfence.never_committed marks a dropped record acked so that the stream's ack
    of it does nothing, and forgets it among the messages a rebalance waits for."""
    assert "if not self.acked" in _code(Message.ack), (
        "faust-streaming's Message.ack no longer checks acked first: a record the agent "
        "dropped may become committable; review faustfence.never_committed"
    )
    assert "if not message.acked" in _code(faust_consumer.Consumer.ack)
    assert "self._unacked_messages.add(message)" in _code(faust_consumer.Consumer.track_message)


def test_canary_nothing_else_on_the_consumer_calls_wait_first() -> None:
    module = _code(faust_consumer)
    assert module.count("wait_first(") == 1, (
        "faust-streaming's consumer module calls wait_first in more places now: "
        "check that none passes SteppingConsumer's DELIVERED (streams/consumer.py)"
    )


_MADE: list[SteppingConsumer] = []


@pytest.fixture(autouse=True)
def close_made_consumers() -> Iterator[None]:
    """A consumer never started still made its fetch thread's event loop: close it."""
    yield
    while _MADE:
        _MADE.pop()._thread.thread_loop.close()


def _consumer() -> SteppingConsumer:
    """A consumer of the app's transport on the test's event loop, never started."""

    async def nothing(*args: Any) -> None:
        return None

    made = SteppingConsumer(
        app.transport,
        callback=nothing,
        on_partitions_revoked=nothing,
        on_partitions_assigned=nothing,
        loop=asyncio.get_running_loop(),
    )
    _MADE.append(made)
    return made


async def test_canary_wait_first_checks_the_services_stopped_and_crashed_events() -> None:
    consumer = _consumer()

    async def done() -> None:
        return None

    for event in (None, "_stopped", "_crashed"):
        if event is not None:
            getattr(consumer, event).set()
        fausts = await Service.wait_first(consumer, done())
        ours = await consumer.wait_first(DELIVERED, consumer.suspend_flow.wait())
        assert consumer.stopped_or_crashed() is fausts.stopped is ours.stopped, (
            f"Service.wait_first answers stopped={fausts.stopped} after {event} was set: "
            f"FencedConsumer.stopped_or_crashed must check what it checks ({REVIEW})"
        )
        assert fausts.stopped is (event is not None)


async def test_canary_the_producer_is_flushed_before_an_offset_is_committed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At-least-once: Faust commits a source offset only after producer.flush() returned,
    so nothing the events below it produced can be lost once it is committed."""
    consumer = _consumer()
    tp, steps = TP("raw-notifications", 3), []

    async def flush() -> None:
        await asyncio.sleep(0)
        steps.append("flush")

    async def commit(offsets: Any) -> bool:
        steps.append(f"commit {dict(offsets)}")
        return True

    monkeypatch.setattr(app.producer, "flush", flush)
    monkeypatch.setattr(consumer, "assignment", lambda: {tp})
    monkeypatch.setattr(consumer, "_commit", commit)
    monkeypatch.setattr(app.tables, "on_commit", lambda offsets: None)
    assert await consumer._commit_offsets({tp: 42})
    assert steps == ["flush", f"commit { ({tp: 42}) }"], (
        f"Consumer._commit_offsets no longer flushes the producer before it commits: "
        f"BatchingProducer's records could be lost after a commit ({REVIEW}, "
        f"streams/producer.py)"
    )
    assert "_commit_offsets(" in _code(faust_consumer.Consumer._commit_tps), (
        f"Consumer commits no longer go through _commit_offsets ({REVIEW})"
    )
    # What streams.lag reads: the offset just committed.
    assert faustfence.committed_offset(consumer, tp) == 42, (
        f"Consumer._committed_offset no longer holds the committed offsets: streams.lag "
        f"reads it ({REVIEW})"
    )


# Recovery


def test_canary_recovery_takes_each_changelog_record_through_its_modules_asyncio() -> None:
    slurp = _code(Recovery._slurp_changelogs.fun)  # a Service.task
    assert re.search(r"await asyncio\.wait_for\(\s*changelog_queue\.get\(\),", slurp), (
        "faust-streaming's Recovery._slurp_changelogs no longer takes its records with "
        f"asyncio.wait_for(changelog_queue.get(), ...): RecoveryAsyncio is not used; {REVIEW}"
    )
    its_asyncio = vars(faust_recovery)["asyncio"]
    assert isinstance(its_asyncio, faustfence.RecoveryAsyncio), (
        "building the app did not give faust.tables.recovery RecoveryAsyncio"
    )
    assert its_asyncio.TimeoutError is asyncio.TimeoutError  # the rest is asyncio's


async def test_recoverys_wait_for_takes_a_queued_record_without_a_turn_of_the_loop() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    queue.put_nowait(1)
    turns: list[str] = []
    asyncio.get_running_loop().call_soon(turns.append, "loop ran")
    assert await faustfence.RecoveryAsyncio.wait_for(queue.get(), timeout=5.0) == 1
    assert turns == []  # asyncio.wait_for (Python 3.11) lets the loop run first
    await asyncio.sleep(0)
    assert turns == ["loop ran"]


async def test_recoverys_wait_for_still_waits_and_times_out_when_the_queue_is_empty() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    asyncio.get_running_loop().call_later(0.01, queue.put_nowait, 2)
    assert await faustfence.RecoveryAsyncio.wait_for(queue.get(), timeout=5.0) == 2
    with pytest.raises(asyncio.TimeoutError):
        await faustfence.RecoveryAsyncio.wait_for(queue.get(), timeout=0.01)
    queue.put_nowait(3)  # the get that timed out was cancelled: it took nothing
    assert await faustfence.RecoveryAsyncio.wait_for(queue.get(), timeout=5.0) == 3
    assert queue.empty()


def test_canary_every_changelog_is_read_into_the_one_changelog_queue() -> None:
    """SteppingConsumer._to_recovery puts changelog records straight on that queue."""
    update = _code(TableManager._update_channels)
    assert "clone_using_queue(self.changelog_queue)" in update, (
        "faust-streaming's TableManager no longer reads every changelog topic into "
        f"changelog_queue: SteppingConsumer._to_recovery would bypass recovery; {REVIEW}"
    )
    handler = _code(faust_conductor.ConductorCompiler.build)  # without cython_optimizations
    assert "put_nowait_enhanced(" in handler and "consumer_on_buffer_full(tp)" in handler, (
        "faust-streaming's conductor puts a record on its queue some other way: "
        "SteppingConsumer._to_recovery does as it did; review streams/consumer.py"
    )


def test_canary_the_rocksdb_store_applies_a_changelog_records_own_bytes(rocks: Any) -> None:
    """RocksDBTables.changelog_event leaves the event's key and value undecoded."""
    message = ConsumerMessage(
        "t-changelog", 3, 7, 0.0, 0, [], b"k", b'{"n": 1}', None, 1, 1, TP("t-changelog", 3)
    )
    rocks.apply_changelog_batch(
        [faust.Event(app, None, None, [], message)], to_key=str, to_value=str
    )
    assert rocks._db_for_partition(3).get(b"k") == b'{"n": 1}', (
        f"rocksdb.Store.apply_changelog_batch no longer writes event.message's bytes ({REVIEW})"
    )
    event = faustfence.RocksDBTables().changelog_event(app, message)
    assert event is not None and event.message is message


# Producer


async def test_canary_client_settings_reach_the_aiokafka_producer() -> None:
    made = BatchingProducer(app.transport)
    client = made._new_producer()  # what Producer.on_start starts; not started here
    try:
        assert client._txn_manager is not None, (
            f"Producer._settings_extra no longer reaches AIOKafkaProducer: idempotence is off "
            f"({REVIEW})"
        )
    finally:
        await client.stop()  # closes it without having connected


def test_canary_the_aiokafka_producer_is_the_one_on_start_creates() -> None:
    made = BatchingProducer(app.transport)
    assert not made.has_client
    with pytest.raises(NotReady):
        made.aiokafka_producer()
    assert "self._producer = self._new_producer()" in _code(faust_aiokafka.Producer.on_start), (
        f"Producer.on_start no longer keeps the aiokafka producer in _producer ({REVIEW})"
    )
    made._producer = fake = object()  # what on_start does
    assert made.has_client and made.aiokafka_producer() is fake


async def test_canary_fausts_own_sends_wait_in_the_producer_buffer() -> None:
    made = BatchingProducer(app.transport)
    await made.drain_buffer()  # empty: returns at once
    made.send_soon(SimpleNamespace())  # type: ignore[arg-type]  # Topic.send, changelogs
    assert isinstance(made.buffer, ProducerBuffer) and made.buffer.size == 1, (
        f"Faust's sends no longer wait in Producer.buffer: BatchingProducer.flush would "
        f"not drain them before a commit ({REVIEW})"
    )


# Table stores


@pytest.fixture
def rocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Faust's RocksDB store of asset_counts, its files under tmp_path."""
    monkeypatch.setattr(rocksdb.Store, "path", property(lambda self: tmp_path))
    store = rocksdb.Store("rocksdb://", app, asset_counts, options=dict(asset_counts.options or {}))
    return store


def test_canary_the_rocksdb_store_keeps_one_database_per_partition(rocks: Any) -> None:
    assert rocks._dbs == {}, f"rocksdb.Store._dbs changed ({REVIEW})"
    db = rocks._db_for_partition(3)
    assert isinstance(db, rocksdict.Rdict), f"rocksdb.Store is not over rocksdict ({REVIEW})"
    assert rocks._dbs == {3: db}, (
        f"rocksdb.Store._db_for_partition no longer opens into _dbs: RocksDBTables would "
        f"not find the partition ({REVIEW})"
    )
    assert rocks._db_for_partition(3) is db


def test_canary_the_persisted_offset_sits_under_offset_key_among_the_rows(rocks: Any) -> None:
    rocks.set_persisted_offset(TP("c", 2), 41)
    assert rocks._dbs[2].get(faustfence.OFFSET_KEY) == b"41", (
        f"rocksdb.Store no longer keeps its offset under offset_key: scans would return "
        f"it as a row, streams.datadir would not find it ({REVIEW})"
    )
    assert faustfence.OFFSET_KEY == b"__faust\0offset__"


def test_canary_faust_names_a_partition_database_as_we_read_it(rocks: Any, tmp_path: Path) -> None:
    assert rocks.partition_path(3) == faustfence.partition_path(tmp_path, "asset_counts", 3), (
        f"rocksdb.Store.partition_path changed: streams.datadir reads the wrong files ({REVIEW})"
    )


def test_canary_a_partition_database_can_skip_its_write_ahead_log(rocks: Any) -> None:
    options: Any = rocksdict.WriteOptions()
    options.disable_wal = True
    assert options.disable_wal is True, f"rocksdict.WriteOptions.disable_wal changed ({REVIEW})"
    rocks._db_for_partition(0).set_write_options(options)


def test_canary_the_memory_store_keeps_its_values_in_data() -> None:
    table: Any = SimpleNamespace(name="t")
    store: Any = memory.Store("memory://", app, table)
    assert isinstance(store.data, dict), f"memory.Store.data changed ({REVIEW})"
    store.data["k"] = {"v": 1}
    assert store["k"] == {"v": 1}, f"memory.Store no longer reads data ({REVIEW})"


def test_canary_what_direct_delivery_reads_of_faust() -> None:
    """Each internal streams.consumer._deliver uses, as faust-streaming 0.15 has it."""
    assert "generation_id" in inspect.signature(ConsumerMessage.__init__).parameters
    assert isinstance(app.consumer_generation_id, int)
    assert callable(app.flow_control.is_active) and callable(app.flow_control.acquire)
    assert "self._active_tps" in inspect.getsource(PartitionAssignor.is_active)
    assert isinstance(app.monitor.stream_inbound_time, dict), (
        "faust's Monitor.stream_inbound_time is gone: Faust's idle-stream check would "
        "warn about directly delivered partitions; review streams/consumer.py"
    )
    recovery_source = _code(Recovery.on_recovery_completed)
    assert "consumer.perform_seek()" in recovery_source, (
        "faust-streaming's recovery no longer seeks through Consumer.perform_seek: "
        "direct delivery would process nothing after a rebalance; review streams/consumer.py"
    )
    ack_source = _code(faust_consumer.Consumer.ack)
    assert "acked_for_tp.append(offset)" in ack_source, (
        "faust-streaming's Consumer.ack no longer records the offset for the commit: "
        "directly delivered messages would never be committed; review streams/consumer.py"
    )
    stream_source = _code(faust_streams.Stream._py_aiter)
    assert "message.generation_id != self.app.consumer_generation_id" in stream_source, (
        "faust-streaming's stream no longer skips messages of an earlier generation: "
        "check what streams.consumer._deliver should do with them"
    )


# Group membership (streams.lease)


def test_canary_faust_builds_its_consumer_thread_in_new_consumer_thread() -> None:
    assert "self._thread = self._new_consumer_thread()" in _code(
        faust_consumer.ThreadDelegateConsumer.__init__
    ), f"faust-streaming no longer builds its consumer thread there: no lease ({REVIEW})"
    assert "AIOKafkaConsumerThread(self," in _code(faust_aiokafka.Consumer._new_consumer_thread)


def test_canary_the_consumer_thread_starts_its_aiokafka_consumer_in_on_start() -> None:
    source = _code(faust_aiokafka.AIOKafkaConsumerThread.on_start)
    assert "self._consumer = self._create_consumer(" in source, REVIEW
    assert "await self._consumer.start()" in source, REVIEW
    assert "self._coordinator = GroupCoordinator(" in _code(AIOKafkaConsumer.start), (
        f"aiokafka's consumer no longer creates its GroupCoordinator in start ({REVIEW})"
    )


def test_canary_heartbeats_and_joins_go_through_the_names_the_lease_wraps() -> None:
    routine = _code(GroupCoordinator._heartbeat_routine)
    assert "success = await self._do_heartbeat()" in routine, (
        f"aiokafka's heartbeats no longer go through _do_heartbeat: the lease lapses "
        f"and nothing is processed ({REVIEW})"
    )
    joining = _code(GroupCoordinator.ensure_active_group)
    assert joining.index("await self._do_rejoin_group(") < joining.index(
        "self._start_heartbeat_task()"
    ), f"aiokafka no longer starts its heartbeats after a join ({REVIEW})"
    assert "return True" in _code(GroupCoordinator._do_heartbeat)


async def test_a_successful_heartbeat_renews_the_lease_from_when_it_was_sent() -> None:
    answers = [False, True]
    started: list[bool] = []

    class Coordinator(GroupCoordinator):  # type: ignore[misc]  # aiokafka is untyped
        """aiokafka's coordinator, with a heartbeat that answers `answers` in turn."""

        async def _do_heartbeat(self) -> bool:
            await asyncio.sleep(0.05)
            return answers.pop(0)

        def _start_heartbeat_task(self) -> None:
            started.append(True)

    coordinator = Coordinator.__new__(Coordinator)  # not started: nothing of it but the two
    lease = Lease(10.0)
    faustfence.renew_on_membership(coordinator, lease)
    assert await coordinator._do_heartbeat() is False
    assert lease.age_s() is None  # a failed heartbeat renews nothing
    assert await coordinator._do_heartbeat() is True
    age = lease.age_s()
    assert age is not None and age >= 0.05  # from the send, not the answer
    coordinator._start_heartbeat_task()  # what aiokafka calls once a join completed
    age = lease.age_s()
    assert started == [True] and age is not None and age < 0.05


def test_canary_the_fetch_wait_reaches_aiokafkas_fetcher_from_fetch_max_wait_ms() -> None:
    assert "self._fetch_max_wait_ms = fetch_max_wait_ms" in _code(AIOKafkaConsumer.__init__)
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in _code(AIOKafkaConsumer.start), (
        f"aiokafka's start() no longer hands _fetch_max_wait_ms to its Fetcher: the worker "
        f"waits up to Faust's 1.5 s between fetches ({REVIEW})"
    )
    assert "return self._create_worker_consumer(transport)" in _code(
        faust_aiokafka.AIOKafkaConsumerThread._create_consumer
    ), f"Faust no longer builds the worker's consumer in _create_worker_consumer ({REVIEW})"


async def test_the_workers_consumer_waits_at_most_fetch_max_wait_ms_for_a_fetch() -> None:
    thread = app.stepping_consumer._thread
    assert isinstance(thread, faustfence.LeasedConsumerThread)
    consumer = thread._create_worker_consumer(app.transport)  # built, never started
    try:
        assert consumer._fetch_max_wait_ms == faustfence.FETCH_MAX_WAIT_MS < 1500
    finally:
        await consumer.stop()


def test_the_workers_consumer_thread_renews_the_lease() -> None:
    consumer = app.stepping_consumer
    assert isinstance(consumer._thread, faustfence.LeasedConsumerThread)
    assert consumer.lease.valid_for_s < app.conf.broker_session_timeout
