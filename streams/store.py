"""Reading and writing one partition of a table: the worker's hot path and the views.

Faust owns the tables: their RocksDB files (one database per partition), recovery and
standby replicas from the changelog topics, the partition assignment and table_route.
Reads and writes go straight to the partition's database, and a write also appends the
changelog record to the producer's batches, to the same partition number (the source
event's: Faust's own rule). Faust's mapping interface does the same through its codec
registry, a FutureMessage per changelog record and a RocksDB write per acknowledgement:
~300 us per table write on the 2-core dev machine, against ~15 us here. This relies on
two internals of faust-streaming's RocksDB store (`_dbs`, `_db_for_partition`), stable
through 0.15 (pyproject pins <0.16); the unit tests use the memory store instead.

Encoding is Faust's for these tables (raw keys, JSON values, see streams.tables), so its
recovery reads our changelog records; the bytes written locally are the changelog's.
When a changelog batch is acknowledged its last offset becomes the partition's persisted
offset, where recovery starts on the next assignment.

The memory store (unit tests only) is one dict for all partitions, keyed by str.
"""

from collections.abc import Iterator
from typing import Any, cast

import orjson
import rocksdict
from faust.stores import memory, rocksdb
from faust.types.stores import StoreT
from faust.types.tuples import TP

from streams.app import app
from streams.producer import Delivered
from streams.tables import Table

Value = dict[str, Any]


def get(table: Table, partition: int, key: str) -> Value | None:
    """The value of `key` in this worker's copy of `partition`, None if absent."""
    store = table.data
    if isinstance(store, rocksdb.Store):
        db = store._dbs.get(partition)  # never open (create) a partition we do not hold
        raw = db.get(key.encode()) if db is not None else None
        return orjson.loads(raw) if raw is not None else None
    value = _memory(store).get(key)
    return value if isinstance(value, dict) else None


def put(
    table: Table, partition: int, key: str, value: Value | None, encoded: bytes | None = None
) -> None:
    """Set (or with None delete) `key` in `partition`, locally and in the changelog.

    `encoded`, when given, is orjson.dumps(value), already made (streams.updates)."""
    store, key_bytes = table.data, key.encode()
    if value is None:
        encoded = None
    elif encoded is None:
        encoded = orjson.dumps(value)
    if isinstance(store, rocksdb.Store):
        db = _writable(table, store, partition)
        if encoded is None:
            db.delete(key_bytes)
        else:
            db.put(key_bytes, encoded)
    elif value is None:
        _memory(store).pop(key, None)
    else:
        _memory(store)[key] = value
    changelog, persisted = _changelog_of(table)
    app.batching_producer.append(changelog, partition, key_bytes, encoded, on_delivered=persisted)


def scan(
    table: Table, partition: int, prefix: str = "", after: str | None = None
) -> Iterator[tuple[str, Value]]:
    """(key, value) of the keys starting with `prefix` that sort after `after`, in order."""
    store = table.data
    if not isinstance(store, rocksdb.Store):
        data = _memory(store)
        keys = sorted(k for k in data if k.startswith(prefix) and (after is None or k > after))
        yield from ((k, data[k]) for k in keys if k in data)
        return
    db = store._dbs.get(partition)
    if db is None:
        return
    want = prefix.encode()
    iterator = db.iter()
    iterator.seek(max(want, after.encode() + b"\x00") if after is not None else want)
    while iterator.valid():
        key = iterator.key()
        if not key.startswith(want):
            return
        if key != store.offset_key:
            yield key.decode(), orjson.loads(iterator.value())
        iterator.next()


def estimated_size(table: Table) -> int:
    """Keys held for this worker's partitions (RocksDB's estimate: cheap, not exact)."""
    store = table.data
    if isinstance(store, rocksdb.Store):
        return sum(
            max((db.property_int_value("rocksdb.estimate-num-keys") or 0) - 1, 0)  # offset key
            for db in store._dbs.values()
        )
    return len(_memory(store))


_NO_WAL = rocksdict.WriteOptions()
_NO_WAL.disable_wal = True  # type: ignore[assignment,method-assign]  # a property, not a method
_unlogged: dict[tuple[str, int], Any] = {}


def _writable(table: Table, store: rocksdb.Store, partition: int) -> Any:
    """The partition's database (assigned: we are processing its event), without WAL.

    The local database is a cache of the changelog: after a crash RocksDB reopens at a
    consistent earlier point, persisted offset included, and Faust's recovery replays the
    changelog from there. Kafka Streams runs its RocksDB stores without WAL for the same
    reason; the WAL write per put was a tenth of the worker's CPU.
    """
    db = store._db_for_partition(partition)
    if _unlogged.get((table.name, partition)) is not db:
        db.set_write_options(_NO_WAL)
        _unlogged[(table.name, partition)] = db
    return db


_changelogs: dict[str, tuple[str, Delivered]] = {}


def _changelog_of(table: Table) -> tuple[str, Delivered]:
    """The table's changelog topic and its persisted-offset setter, made once per table:
    one callable per table, so the producer calls it once per batch, not per record."""
    found = _changelogs.get(table.name)
    if found is None:

        def setter(tp: TP, offset: int) -> None:
            # Not for a partition given away meanwhile: that would reopen its database.
            if app.assignor.is_active(tp):
                cast(StoreT[Any, Any], table.data).set_persisted_offset(tp, offset)

        found = _changelogs[table.name] = (table.changelog_topic.get_topic_name(), setter)
    return found


def _memory(store: Any) -> dict[str, Any]:
    assert isinstance(store, memory.Store), f"no direct access for {type(store).__name__}"
    return store.data  # type: ignore[return-value]
