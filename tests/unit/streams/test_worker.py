"""The worker's command line and the topics it creates before starting."""

import pytest

from streams import topics
from streams.config import WorkerSettings
from streams.worker import faust_argv, planned_topics


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
