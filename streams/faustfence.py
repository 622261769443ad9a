"""Every faust-streaming internal the worker relies on, and nothing else.

Speed and durability need a few names Faust does not document (pyproject pins
faust-streaming <0.16). They are used here only; the rest of streams/ calls the public
methods below. tests/unit/streams/test_faustfence.py holds one canary per internal: an
upgrade that changes one fails there, naming it, instead of somewhere downstream.

    App._new_consumer, _new_producer, _new_web   factories of app.consumer/producer/web
    App._on_partitions_revoked / _assigned       the rebalance callbacks a consumer gets;
                                                 _assigned ends with its signal's receivers
                                                 (assignment_handled, for readiness)
    Consumer._drain_messages                     awaits wait_first(self.callback(message),
                                                 ...): streams.consumer steps that call
    Service._stopped, _crashed                   wait_first's own check, for its shortcut
    Consumer._commit_offsets                     awaits app.producer.flush() before it
                                                 commits: the at-least-once guarantee
    Consumer._committed_offset                   the offsets last committed (streams.lag)
    Consumer.seek, _thread.call_thread           a seek, made in the consumer's thread
    Consumer._read_offset, _add_gap              the fetch loop's positions and its gap
                                                 acks: not used for a topic without holes
                                                 (streams.positions)
    FlowControlEvent.clear                       resume() empties the streams' queues,
                                                 the tables' changelog_queue included
    Consumer._unacked_messages, Message.acked    a record dropped by the agent is never
                                                 made committable by the stream's ack
    AIOKafkaConsumerThread.on_start, _consumer   the aiokafka consumer, once started
    AIOKafkaConsumerThread._create_worker_consumer,  the worker's aiokafka consumer, and
      AIOKafkaConsumer._fetch_max_wait_ms        the fetch wait its start() hands on
    GroupCoordinator._do_heartbeat,              its heartbeats and the start of them after
      _start_heartbeat_task                      a join: they renew the lease (streams.lease)
    Producer._settings_extra                     extra AIOKafkaProducer arguments
    Producer._ensure_producer, _producer         the aiokafka producer, once started
    Producer.buffer                              Faust's own queue of sends
    faust.tables.recovery's asyncio.wait_for     how Recovery._slurp_changelogs takes
                                                 each changelog record from its queue
    TableManager.changelog_queue                 where the conductor puts every
                                                 changelog record, for recovery
    rocksdb.Store.apply_changelog_batch          reads a record's key and value from
                                                 event.message only
    rocksdb.Store._dbs, _db_for_partition        one rocksdict database per partition
    rocksdb.Store.offset_key, partition_path     the persisted offset, the file layout
    memory.Store.data                            the memory store's one dict

The table store is chosen once, from the store URL, when the app is built: TableStore
has a RocksDB and a memory implementation, and code above it never asks which it has.
"""

import asyncio
import sys
import time
import types
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol, cast

import faust
import faust.tables.recovery
import orjson
import rocksdict
from aiokafka import AIOKafkaProducer
from aiokafka.consumer.group_coordinator import GroupCoordinator
from faust.events import Event
from faust.stores import memory, rocksdb
from faust.tables.manager import TableManager
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Producer
from faust.types import TP, AppT, ConsumerT, EventT, Message, ProducerT, TableT
from faust.web import Web

from streams.lease import Lease
from streams.positions import Positions
from streams.stepping import first_step

Value = dict[str, Any]
Table = TableT[Any, Any]
OFFSET_KEY: bytes = rocksdb.Store.offset_key  # the persisted offset, next to the rows


class ReadOffsets(defaultdict[TP, int | None]):
    """The fetch loop's read offsets (it hands over a record at or above its partition's,
    and drops one below): for a topic without holes, the offsets of its Positions, which
    Faust does not write; Faust's own for the other topics."""

    def __init__(self, gapless: Mapping[str, Positions]) -> None:
        super().__init__(lambda: None)
        self._gapless = gapless

    def __getitem__(self, tp: TP) -> int | None:
        positions = self._gapless.get(tp.topic)
        if positions is not None:
            return positions.read_offset(tp.partition)
        return super().__getitem__(tp)

    def __setitem__(self, tp: TP, offset: int | None) -> None:
        if tp.topic not in self._gapless:
            super().__setitem__(tp, offset)


def renew_on_membership(coordinator: Any, lease: Lease) -> None:
    """Renew `lease` from `coordinator`'s signs that the group counts us in: a successful
    heartbeat (from the time it was sent) and a completed join (aiokafka starts the
    heartbeats right after one)."""
    if not isinstance(coordinator, GroupCoordinator):
        return  # no consumer group: nothing can take partitions away
    do_heartbeat = coordinator._do_heartbeat
    start_heartbeats = coordinator._start_heartbeat_task

    async def heartbeat() -> bool:
        sent = time.monotonic()
        ok: bool = await do_heartbeat()
        if ok:
            lease.renewed(sent)
        return ok

    def joined() -> None:
        lease.renewed()
        start_heartbeats()

    coordinator._do_heartbeat = heartbeat
    coordinator._start_heartbeat_task = joined


# How long the broker may hold a fetch for partitions with nothing new (Faust: 1500 ms,
# Kafka's own consumer: 500 ms). aiokafka has one fetch in flight per broker, for the
# partitions with no fetched records left: while the worker works through a fetched batch
# of raw-notifications, the next fetch asks for the idle ones (the changelogs), and the
# raw partitions just drained wait behind it, up to this long.
FETCH_MAX_WAIT_MS = 100


class RecoveryAsyncio:
    """asyncio as faust.tables.recovery sees it, with a wait_for that takes no turn of the
    event loop when what it waits for is there already.

    Recovery._slurp_changelogs takes every changelog record, a standby replica's
    included, with `await asyncio.wait_for(changelog_queue.get(), timeout=5.0)`. On
    Python 3.11 that costs a task, a timer and a turn of the event loop per record
    (~14 us alone, against 0.2 us for the get). Python 3.12's wait_for does not yield
    when the awaitable is done at once; this one does the same: the get is stepped
    first, and only a get that has to wait is raced against the timeout, as before.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def wait_for(
        awaitable: Awaitable[Any],
        timeout: float | None,  # noqa: ASYNC109 - asyncio.wait_for's own signature
    ) -> Any:
        if isinstance(awaitable, types.CoroutineType):
            done, result = first_step(awaitable)
            if done:
                return result
            awaitable = result
        return await asyncio.wait_for(awaitable, timeout)


def take_changelog_records_without_waiting() -> None:
    """Recovery's wait_for made RecoveryAsyncio's (Python 3.11; 3.12's is as cheap)."""
    if sys.version_info < (3, 12):
        vars(faust.tables.recovery)["asyncio"] = RecoveryAsyncio()


def changelog_queue(app: Any) -> Any:
    """The one queue of changelog records for recovery (TableManager.changelog_queue)."""
    tables: TableManager = app.tables
    return tables.changelog_queue


class LeasedConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, its aiokafka consumer renewing the consumer's lease and
    waiting at most FETCH_MAX_WAIT_MS for a fetch."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # start() gives it to the Fetcher
        return consumer

    async def on_start(self) -> None:
        await super().on_start()  # creates and starts the aiokafka consumer: not joined yet
        consumer = cast(FencedConsumer, self.consumer)
        assert self._consumer is not None
        renew_on_membership(self._consumer._coordinator, consumer.lease)


class FencedConsumer(Consumer):
    """Faust's aiokafka consumer whose fetch loop hands messages over through
    `hand_over(callback)` (the identity here), which keeps the positions of the topics
    in `gapless` itself (streams.positions), and whose group membership renews `lease`."""

    gapless: dict[str, Positions]
    lease: Lease

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.gapless = {}
        super().__init__(*args, **kwargs)
        self.lease = Lease.for_session(self.app.conf.broker_session_timeout)
        self.callback = self.hand_over(self.callback)
        self._read_offset = ReadOffsets(self.gapless)
        flow = self.app.flow_control
        clear = flow.clear

        def clear_queues() -> None:
            kept = self._changelog_events_kept()
            clear()
            changelogs = changelog_queue(self.app)
            for event in kept:
                changelogs.put_nowait(event)
            self.on_queues_cleared()

        flow.clear = clear_queues  # type: ignore[method-assign]  # resume() calls self.clear()

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return LeasedConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def seek(self, partition: TP, offset: int) -> None:
        """Faust's seek, made in the consumer's thread. Faust's own calls aiokafka's seek
        from the event loop's thread, while the consumer's thread may be in aiokafka's
        fetched_records over the same dict of fetched partitions: KeyError there, and
        the fetch loop crashed (seen after a partition was sought back, streams.consumer)."""
        thread = self._thread
        await thread.call_thread(thread._ensure_consumer().seek, partition, offset)
        self._read_offset[partition] = offset if offset else None  # as Consumer.seek does

    def hand_over(
        self, callback: Callable[[Message], Awaitable[None]]
    ) -> Callable[[Message], Awaitable[Any]]:
        return callback

    def on_queues_cleared(self) -> None:
        """Faust emptied the streams' queues (app.flow_control), what they held is gone."""

    def spares_changelogs(self) -> bool:
        """Whether the queues about to be emptied keep the changelog records (False)."""
        return False

    def _changelog_events_kept(self) -> list[Any]:
        """The changelog records queued for recovery, in order, when spares_changelogs():
        the last flow_control.resume() of a rebalance comes after Faust started reading
        the standby partitions, so emptying the queue then would drop their records for
        good (recovery's offsets pass over them, and no seek reads them again)."""
        if not self.spares_changelogs():
            return []
        queue = changelog_queue(self.app)
        kept = []
        while not queue.empty():
            kept.append(queue.get_nowait())
        return kept

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # A gap of a compacted topic is acked, so that commits pass over it. In a topic
        # without holes the records are missing, not gone: never ack them.
        if tp.topic not in self.gapless:
            await super()._add_gap(tp, offset_from, offset_to)

    def stopped_or_crashed(self) -> bool:
        """What Service.wait_first checks before it answers."""
        return self._stopped.is_set() or self._crashed.is_set()


def never_committed(consumer: Any, message: Message) -> None:
    """Done with `message` without making its offset committable: Faust's stream acks
    every event it took once the agent moves on, and a record the agent dropped as out
    of order (streams.positions) comes again and is committed then."""
    message.acked = True  # Message.ack and Consumer.ack do nothing for an acked message
    consumer._unacked_messages.discard(message)  # nothing left to wait for at a rebalance


def committed_offset(consumer: Any, tp: Any) -> int | None:
    """The offset Faust last committed for `tp` (set from the group at assignment)."""
    offset: int | None = consumer._committed_offset.get(tp)
    return offset


class FencedProducer(Producer):
    """Faust's aiokafka Producer, with its aiokafka client and its buffer reachable."""

    client_settings: ClassVar[Mapping[str, Any]] = {}  # more AIOKafkaProducer arguments

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), **self.client_settings}

    @property
    def has_client(self) -> bool:
        """Whether the aiokafka producer exists (the service started it)."""
        return self._producer is not None

    def aiokafka_producer(self) -> AIOKafkaProducer:
        """The aiokafka producer; NotReady before the producer started."""
        return self._ensure_producer()

    async def drain_buffer(self) -> None:
        """Until Faust's own buffer is empty: its flush gives up after 0.1 s without a send."""
        while self.buffer.size:
            await self.buffer.flush()


class FencedApp(faust.App):
    """faust.App building its consumer, producer and web driver from these classes."""

    consumer_class: ClassVar[type["FencedConsumer"]] = FencedConsumer
    producer_class: ClassVar[type["FencedProducer"]] = FencedProducer
    web_class: ClassVar[type[Web]]

    def __init__(self, *args: Any, store: str = "memory://", **kwargs: Any) -> None:
        super().__init__(*args, store=store, **kwargs)  # Faust's default store, memory://
        self.table_store = table_store_for(store)
        self.assignment_handled = False
        take_changelog_records_without_waiting()

    async def _on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        """Faust's handling of an assignment; `assignment_handled` turns true when it ends,
        after its on_partitions_assigned receivers. Recovery runs in a task of its own and
        may finish first: a readiness that looked only at it came before the receivers."""
        self.assignment_handled = False
        try:
            await super()._on_partitions_assigned(assigned, generation_id)
        finally:
            self.assignment_handled = True

    def _new_consumer(self) -> ConsumerT:
        # Faust's own factory (App._new_consumer, Transport.create_consumer), our class.
        return self.consumer_class(
            self.transport,
            callback=self.topics.on_message,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
            loop=self.transport.loop,
        )

    def _new_producer(self) -> ProducerT:
        return self.producer_class(self.transport, loop=self.loop, beacon=self.beacon)

    def _new_web(self) -> Web:
        return self.web_class(self)


def partition_path(tables: Path, table: str, partition: int) -> Path:
    """Where Faust's RocksDB store keeps one table partition (Store.partition_path)."""
    return tables / f"{table}-{partition}.db"


class TableStore(Protocol):
    """One partition of a table read and written directly (see streams.store)."""

    def get(self, table: Table, partition: int, key: str) -> Value | None: ...

    def put(
        self, table: Table, partition: int, key: str, value: Value | None, encoded: bytes | None
    ) -> None: ...

    def scan(
        self, table: Table, partition: int, prefix: str, after: str | None
    ) -> Iterator[tuple[str, Value]]: ...

    def estimated_size(self, table: Table) -> int: ...

    def changelog_event(self, app: AppT, message: Message) -> EventT[Any] | None:
        """The event recovery applies for changelog `message`, made without the
        conductor; None: only the conductor's decoding will do."""


def table_store_for(url: str) -> TableStore:
    """The implementation for Faust's `store` setting (streams.config allows these two)."""
    if url.startswith("rocksdb:"):
        return RocksDBTables()
    if url.startswith("memory:"):
        return MemoryTables()
    raise ValueError(f"no direct table access for the store {url!r}")


_NO_WAL = rocksdict.WriteOptions()
_NO_WAL.disable_wal = True  # type: ignore[assignment,method-assign]  # a property, not a method


class RocksDBTables:
    """The partition's own rocksdict database, raw keys, JSON values (Faust's encoding)."""

    def get(self, table: Table, partition: int, key: str) -> Value | None:
        db = _rocksdb(table)._dbs.get(partition)  # never open (create) a partition we do not hold
        raw = db.get(key.encode()) if db is not None else None
        return orjson.loads(raw) if raw is not None else None

    def put(
        self, table: Table, partition: int, key: str, value: Value | None, encoded: bytes | None
    ) -> None:
        db = self._writable(table, partition)
        if encoded is None:
            db.delete(key.encode())
        else:
            db.put(key.encode(), encoded)

    def scan(
        self, table: Table, partition: int, prefix: str, after: str | None
    ) -> Iterator[tuple[str, Value]]:
        db = _rocksdb(table)._dbs.get(partition)
        if db is None:
            return
        want = prefix.encode()
        iterator = db.iter()
        iterator.seek(max(want, after.encode() + b"\x00") if after is not None else want)
        while iterator.valid():
            key = iterator.key()
            if not key.startswith(want):
                return
            if key != OFFSET_KEY:
                yield key.decode(), orjson.loads(iterator.value())
            iterator.next()

    def estimated_size(self, table: Table) -> int:
        """RocksDB's estimate (cheap, not exact), less each partition's offset key."""
        return sum(
            max(int(db.property_int_value("rocksdb.estimate-num-keys") or 0) - 1, 0)
            for db in _rocksdb(table)._dbs.values()
        )

    def changelog_event(self, app: AppT, message: Message) -> EventT[Any] | None:
        """The RocksDB store writes a changelog record's own bytes (event.message's key
        and value): nothing to decode."""
        return Event(app, message.key, message.value, message.headers, message)

    def _writable(self, table: Table, partition: int) -> Any:
        """The partition's database (assigned: we are processing its event), without WAL.

        The local database is a cache of the changelog: after a crash RocksDB reopens at
        a consistent earlier point, persisted offset included, and Faust's recovery
        replays the changelog from there. Kafka Streams runs its RocksDB stores without
        WAL for the same reason.
        """
        db = _rocksdb(table)._db_for_partition(partition)
        # Set on every write (a fraction of a microsecond), not remembered per database:
        # a reference kept here would keep a database Faust closes (Store.stop,
        # revoke_partitions) open, and unflushed, since it has no WAL.
        db.set_write_options(_NO_WAL)
        return db


class MemoryTables:
    """Faust's memory store (unit tests): one dict of values for all partitions, keyed
    by str, and here the partition of each key, so that a partition reads as its own."""

    def __init__(self) -> None:
        self._partitions: dict[str, dict[str, int]] = {}  # table -> key -> partition

    def get(self, table: Table, partition: int, key: str) -> Value | None:
        value = _memory(table).get(key)
        mine = self._partitions.get(table.name, {}).get(key) == partition
        return value if mine and isinstance(value, dict) else None

    def put(
        self, table: Table, partition: int, key: str, value: Value | None, encoded: bytes | None
    ) -> None:
        partitions = self._partitions.setdefault(table.name, {})
        if value is None:
            _memory(table).pop(key, None)
            partitions.pop(key, None)
        else:
            _memory(table)[key] = value
            partitions[key] = partition

    def scan(
        self, table: Table, partition: int, prefix: str, after: str | None
    ) -> Iterator[tuple[str, Value]]:
        data, partitions = _memory(table), self._partitions.get(table.name, {})
        keys = sorted(
            k
            for k in data
            if k.startswith(prefix)
            and (after is None or k > after)
            and partitions.get(k) == partition
        )
        yield from ((k, data[k]) for k in keys if k in data)

    def estimated_size(self, table: Table) -> int:
        return len(_memory(table))

    def changelog_event(self, app: AppT, message: Message) -> EventT[Any] | None:
        return None  # the memory store keeps decoded keys and values


def _rocksdb(table: Table) -> Any:
    return table.data


def _memory(table: Table) -> dict[str, Any]:
    store = table.data
    assert isinstance(store, memory.Store), f"not the memory store: {type(store).__name__}"
    return store.data  # type: ignore[return-value]
