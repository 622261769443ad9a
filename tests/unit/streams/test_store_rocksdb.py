"""streams.store on a real faust RocksDB store (rocksdict files in a temp directory, no
broker): what the worker does with its tables in production, where the other unit tests
use the memory store."""

import gc
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
import rocksdict
from faust.stores import rocksdb
from faust.types import TP

from streams import faustfence, store
from streams.app import app
from streams.tables import asset_counts

CHANGELOG = "switchboard-rocks-changelog"


@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A table whose data is Faust's RocksDB store under tmp_path, read and written
    through streams.store as the worker does (RocksDBTables)."""
    monkeypatch.setattr(rocksdb.Store, "path", property(lambda self: tmp_path))
    data = rocksdb.Store("rocksdb://", app, asset_counts, options=dict(asset_counts.options or {}))
    monkeypatch.setattr(store, "_tables", faustfence.RocksDBTables())
    monkeypatch.setattr(store, "_changelogs", {})
    yield SimpleNamespace(
        name="rocks", data=data, changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG)
    )
    for db in data._dbs.values():
        db.close()


def test_a_value_put_is_got_back_from_its_partition_only(table: Any, produced: Any) -> None:
    store.put(table, 2, "acme|1", {"count": 3})
    assert store.get(table, 2, "acme|1") == {"count": 3}
    assert store.get(table, 2, "acme|2") is None
    assert store.get(table, 5, "acme|1") is None
    assert set(table.data._dbs) == {2}  # reading a partition not held does not create it
    store.put(table, 2, "acme|1", None)
    assert store.get(table, 2, "acme|1") is None


def test_each_write_goes_to_the_changelog_partition_as_stored(table: Any, produced: Any) -> None:
    store.put(table, 2, "acme|1", {"count": 3})
    store.put(table, 2, "acme|1", None)
    records = [(r.topic, r.partition, r.key, r.value) for r in produced.records]
    assert records == [
        (CHANGELOG, 2, b"acme|1", orjson.dumps({"count": 3})),
        (CHANGELOG, 2, b"acme|1", None),  # a tombstone
    ]


def test_scan_reads_a_prefix_in_key_order_after_a_key(table: Any, produced: Any) -> None:
    for key in ("b|2", "a|9", "b|1", "b|3", "c|1"):
        store.put(table, 0, key, {"k": key})
    store.put(table, 1, "b|0", {"k": "other partition"})
    table.data.set_persisted_offset(TP(CHANGELOG, 0), 7)  # Faust's offset key, among rows
    assert [k for k, _ in store.scan(table, 0)] == ["a|9", "b|1", "b|2", "b|3", "c|1"]
    assert list(store.scan(table, 0, "b|")) == [
        ("b|1", {"k": "b|1"}),
        ("b|2", {"k": "b|2"}),
        ("b|3", {"k": "b|3"}),
    ]
    assert [k for k, _ in store.scan(table, 0, "b|", after="b|1")] == ["b|2", "b|3"]
    assert [k for k, _ in store.scan(table, 0, "b|", after="a")] == ["b|1", "b|2", "b|3"]
    assert list(store.scan(table, 3, "b|")) == []


def test_the_size_counts_rows_not_the_offset_key(table: Any, produced: Any) -> None:
    for i in range(5):
        store.put(table, 0, f"k|{i}", {"i": i})
    table.data.set_persisted_offset(TP(CHANGELOG, 0), 4)
    assert store.estimated_size(table) == 5


def test_writes_skip_the_write_ahead_log(table: Any, produced: Any, tmp_path: Path) -> None:
    """The local database is a cache of the changelog (streams.faustfence)."""
    for i in range(100):
        store.put(table, 0, f"k|{i}", {"value": "x" * 100})
    logs = list(faustfence.partition_path(tmp_path, "asset_counts", 0).glob("*.log"))
    assert logs and all(log.stat().st_size == 0 for log in logs)


def test_a_database_faust_lets_go_is_closed_with_its_rows_on_disk(
    table: Any, produced: Any, tmp_path: Path
) -> None:
    """Faust closes a partition's database by dropping it (Store.stop, revoke_partitions);
    nothing of ours may keep it open, or its rows, never in a WAL, stay in memory only."""
    store.put(table, 0, "k|1", {"i": 1})
    table.data._dbs.clear()
    gc.collect()
    path = str(faustfence.partition_path(tmp_path, "asset_counts", 0))
    db = rocksdict.Rdict(path, options=rocksdict.Options(raw_mode=True))  # the lock is free
    try:
        assert db.get(b"k|1") == orjson.dumps({"i": 1})
    finally:
        db.close()
