"""WorkerSettings: SWITCHBOARD_* variables, defaults, prefixed topic names."""

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
