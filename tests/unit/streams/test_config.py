"""WorkerSettings: SWITCHBOARD_* variables, defaults, prefixed topic names."""

from pathlib import Path

import pytest

from streams.config import WorkerSettings


def test_defaults() -> None:
    assert WorkerSettings.model_fields["app_id"].default == "switchboard"
    assert WorkerSettings.model_fields["topic_prefix"].default == ""
    assert WorkerSettings.model_fields["kafka_bootstrap"].default == "127.0.0.1:9092"
    assert WorkerSettings.model_fields["partitions"].default == 8
    assert WorkerSettings.model_fields["dedupe_window_s"].default == 3600
    assert WorkerSettings.model_fields["store"].default == "rocksdb://"
    assert WorkerSettings.model_fields["web_bind"].default == "127.0.0.1"
    assert WorkerSettings.model_fields["web_port"].default == 6066


def test_environment_and_topic_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_TOPIC_PREFIX", "staging.")
    monkeypatch.setenv("SWITCHBOARD_PARTITIONS", "12")
    monkeypatch.setenv("SWITCHBOARD_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    settings = WorkerSettings()
    assert settings.topic("raw-notifications") == "staging.raw-notifications"
    assert settings.partitions == 12
    assert settings.kafka_bootstrap == "k1:9092,k2:9092"


def test_nonsense_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_PARTITIONS", "0")
    with pytest.raises(ValueError):
        WorkerSettings()


def test_every_table_opens_rocksdb_with_bounded_memory(tmp_path: Path) -> None:
    from faust.stores import rocksdb

    from streams.app import app
    from streams.tables import TABLES

    mib = 1024 * 1024
    for table in TABLES.values():
        store = rocksdb.Store(f"rocksdb://{tmp_path}/", app, table, options=table.options)
        options = store.rocksdb_options
        assert options.write_buffer_size == 8 * mib, table.name
        assert options.max_write_buffer_number == 2
        assert options.block_cache_size == 8 * mib  # Faust's default is 2 GiB per DB
    assert TABLES["asset_counts"].options is not TABLES["assignment_rows"].options


def test_rocksdb_memory_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_ROCKSDB_WRITE_BUFFER_MIB", "4")
    monkeypatch.setenv("SWITCHBOARD_ROCKSDB_BLOCK_CACHE_MIB", "32")
    options = WorkerSettings().rocksdb_options()
    assert options == {
        "write_buffer_size": 4 * 1024 * 1024,
        "max_write_buffer_number": 2,
        "block_cache_size": 32 * 1024 * 1024,
    }
