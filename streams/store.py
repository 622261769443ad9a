"""Reading and writing one partition of a table: the worker's hot path and the views.

Faust owns the tables: their RocksDB files (one database per partition), recovery and
standby replicas from the changelog topics, the partition assignment and table_route.
Reads and writes go straight to the partition's database, and a write also appends the
changelog record to the producer's batches, to the same partition number (the source
event's: Faust's own rule). Faust's mapping interface does the same through its codec
registry, a FutureMessage per changelog record and a RocksDB write per acknowledgement,
which costs more than the rest of an event's work. The direct access is the app's
table store (streams.faustfence: RocksDB, or memory in unit tests), chosen once.

Encoding is Faust's for these tables (raw keys, JSON values, see streams.tables), so its
recovery reads our changelog records; the bytes written locally are the changelog's.
When a changelog batch is acknowledged its last offset becomes the partition's persisted
offset, where recovery starts on the next assignment.
"""

from collections.abc import Iterator
from typing import Any, cast

import orjson
from faust.types.stores import StoreT
from faust.types.tuples import TP

from streams.app import app
from streams.producer import Delivered
from streams.tables import Table

Value = dict[str, Any]
_tables = app.table_store


def get(table: Table, partition: int, key: str) -> Value | None:
    """The value of `key` in this worker's copy of `partition`, None if absent."""
    return _tables.get(table, partition, key)


def put(
    table: Table, partition: int, key: str, value: Value | None, encoded: bytes | None = None
) -> None:
    """Set (or with None delete) `key` in `partition`, locally and in the changelog.

    `encoded`, when given, is orjson.dumps(value), already made (streams.updates)."""
    if value is None:
        encoded = None
    elif encoded is None:
        encoded = orjson.dumps(value)
    _tables.put(table, partition, key, value, encoded)
    changelog, persisted = _changelog_of(table)
    app.batching_producer.append(
        changelog, partition, key.encode(), encoded, on_delivered=persisted
    )


def scan(
    table: Table, partition: int, prefix: str = "", after: str | None = None
) -> Iterator[tuple[str, Value]]:
    """(key, value) of the keys starting with `prefix` that sort after `after`, in order."""
    return _tables.scan(table, partition, prefix, after)


def estimated_size(table: Table) -> int:
    """Keys held for this worker's partitions (RocksDB's estimate: cheap, not exact)."""
    return _tables.estimated_size(table)


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
