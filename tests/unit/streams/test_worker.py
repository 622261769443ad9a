"""The worker's command line and the topics it creates before starting."""

import pytest

from streams import topics
from streams.config import WorkerSettings
from streams.worker import faust_argv, partition_mismatch, planned_topics


def test_faust_argv_passes_web_host_port_and_extra_options() -> None:
    settings = WorkerSettings(web_host="10.0.0.5", web_port=6070, log_level="warn")
    argv = faust_argv(settings, ["--without-web"])
    assert argv[1:] == [
        "worker",
        "--loglevel",
        "warn",
        "--web-host",
        "10.0.0.5",
        "--web-port",
        "6070",
        "--without-web",
    ]


def test_every_topic_is_planned_with_the_same_partition_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = WorkerSettings(partitions=6, replication=3)
    monkeypatch.setattr(topics, "settings", WorkerSettings(topic_prefix="t1."))
    planned = planned_topics(settings, ["app-asset_counts-changelog"])
    names = [t.name for t in planned]
    assert "t1.raw-notifications" in names and "t1.notifications.dead-letter" in names
    assert "t1.notifications.conflicts" in names and "t1.notifications.other" in names
    assert {t.num_partitions for t in planned} == {6}
    assert {t.replication_factor for t in planned} == {3}
    [changelog] = [t for t in planned if t.name.endswith("-changelog")]
    assert changelog.topic_configs == {"cleanup.policy": "compact"}


def test_a_wrong_partition_count_names_the_topic_both_counts_and_the_fixes() -> None:
    settings = WorkerSettings(partitions=8, kafka_bootstrap="k1:9092")
    message = partition_mismatch(
        settings, {"raw-notifications": 1, "notifications.other": 8, "x-changelog": 8}
    )
    assert "\n" not in message
    assert "raw-notifications has 1, expected 8 (SWITCHBOARD_PARTITIONS" in message
    assert "notifications.other" not in message  # the right ones are not listed
    assert (
        "kafka-topics.sh --bootstrap-server k1:9092 --delete --topic raw-notifications" in message
    )
    # Setting the count to 1 would break the other topics: not offered.
    assert "SWITCHBOARD_PARTITIONS=1" not in message


def test_when_every_topic_has_the_same_other_count_the_setting_is_offered() -> None:
    message = partition_mismatch(WorkerSettings(partitions=8), {"a": 3, "b": 3})
    assert "a has 3, b has 3, expected 8" in message
    assert "--delete --topic a; kafka-topics.sh" in message
    assert message.endswith("or keep them and set SWITCHBOARD_PARTITIONS=3 on every worker")
