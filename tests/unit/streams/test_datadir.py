"""The data directory: created with its parents; local tables ahead of their changelog.

The RocksDB files are real (rocksdict, as Faust writes them); the changelog end offsets
are given, as the broker would answer them.
"""

from pathlib import Path

import pytest
import rocksdict

from streams import datadir
from streams.config import WorkerSettings
from streams.datadir import Applied
from streams.faustfence import OFFSET_KEY, partition_path


def write_offset(tables: Path, table: str, partition: int, offset: int | None) -> None:
    """A table partition as Faust's RocksDB store leaves it: rows and a persisted offset."""
    tables.mkdir(parents=True, exist_ok=True)
    db = rocksdict.Rdict(
        str(partition_path(tables, table, partition)),
        options=rocksdict.Options(raw_mode=True),
    )
    db[b"row"] = b"{}"
    if offset is not None:
        db[OFFSET_KEY] = str(offset).encode()
    db.close()


def test_the_data_directory_is_created_with_its_parents(tmp_path: Path) -> None:
    settings = WorkerSettings(data_dir=tmp_path / "fresh" / ".dev" / "streams")
    datadir.create(settings)
    datadir.create(settings)  # and again: it exists now
    assert settings.data_dir.is_dir()


def test_persisted_offsets_are_read_from_the_files(tmp_path: Path) -> None:
    write_offset(tmp_path, "asset_counts", 0, 41)
    write_offset(tmp_path, "asset_counts", 3, None)  # no changelog record applied yet
    names = [("asset_counts", "a-changelog"), ("user_status", "u-changelog")]
    assert datadir.applied_offsets(tmp_path, names, 8) == [Applied("a-changelog", 0, 41)]


@pytest.mark.parametrize(
    ("offset", "end", "is_stale"),
    [
        (41, 42, False),  # the last record applied is the changelog's last one
        (41, 100, False),
        (42, 42, True),  # an offset the changelog does not have
        (0, 0, True),  # an old single record, an empty new changelog (Faust misses it)
        (500, 1, True),  # a new changelog with one record (Faust misses it)
    ],
)
def test_a_partition_is_stale_when_applied_past_the_changelog_end(
    offset: int, end: int, is_stale: bool
) -> None:
    applied = [Applied("a-changelog", 2, offset)]
    assert datadir.stale(applied, {("a-changelog", 2): end}) == (applied if is_stale else [])


def test_the_stale_message_says_what_is_wrong_and_what_to_delete(tmp_path: Path) -> None:
    found = [Applied("a-changelog", 2, 500), Applied("b-changelog", 0, 7)]
    message = datadir.stale_message(found, {("a-changelog", 2): 1}, tmp_path / "v1" / "tables")
    assert "\n" not in message
    assert "another Kafka cluster or from deleted topics" in message
    assert "a-changelog partition 2 was applied up to offset 500" in message
    assert "ends at offset 1 (2 table partitions like this)" in message
    assert f"delete {tmp_path / 'v1' / 'tables'} and start the worker again" in message


def test_the_cluster_id_is_kept_with_the_tables_and_named_when_it_changes(
    tmp_path: Path,
) -> None:
    tables = tmp_path / "v1" / "tables"
    assert datadir.remembered_cluster(tables) is None  # a fresh or an older data dir
    datadir.remember_cluster(tables, "AAAA")
    assert datadir.remembered_cluster(tables) == "AAAA"
    message = datadir.other_cluster_message("AAAA", "BBBB", tables)
    assert "\n" not in message
    assert "written against cluster id AAAA, this broker is cluster id BBBB" in message
    assert f"delete {tables} and start the worker again" in message


def test_changelog_topic_ids_are_kept_and_a_new_id_is_named(tmp_path: Path) -> None:
    tables = tmp_path / "v1" / "tables"
    tables.mkdir(parents=True)
    assert datadir.remembered_topic_ids(tables) == {}  # a fresh or an older data dir
    known = {"sb-asset_counts-changelog": "id-1", "sb-user_status-changelog": "id-2"}
    datadir.remember_topic_ids(tables, known)
    assert datadir.remembered_topic_ids(tables) == known
    # A changelog deleted and created again (a rebuild) has a new id; one not known yet
    # (a table added by an upgrade) is not a reason to refuse.
    current = {**known, "sb-user_status-changelog": "id-9", "sb-new-changelog": "id-3"}
    assert datadir.recreated(known, current) == ["sb-user_status-changelog"]
    assert datadir.recreated(known, known) == []
    message = datadir.recreated_message(["sb-user_status-changelog"], known, current, tables)
    assert "\n" not in message
    assert "sb-user_status-changelog is topic id id-9, the tables were written against " in message
    assert "topic id id-2 (1 changelogs like this)" in message
    assert f"delete {tables} and start the worker again" in message
