"""The KafkaTopics, the settings and the worker scaling agree with each other and with
schemas/topics.py: the partition count is one number everywhere, and no autoscaler can
ask for more workers than there are partitions."""

from __future__ import annotations

from typing import Any

from schemas.topics import ALL_TOPICS, RAW_NOTIFICATIONS
from tests.deploy.manifests import Rendered

DAY_MS = 86_400_000


def _topics(overlay: Rendered) -> dict[str, dict[str, Any]]:
    return {
        t["spec"].get("topicName", t["metadata"]["name"]): t for t in overlay.of_kind("KafkaTopic")
    }


def _retention_ms(topic: dict[str, Any]) -> int:
    value = int(topic["spec"]["config"]["retention.ms"])
    return 2**63 - 1 if value == -1 else value


def test_every_topic_of_the_schemas_and_no_other(overlay: Rendered) -> None:
    assert sorted(_topics(overlay)) == sorted(ALL_TOPICS)


def test_every_topic_has_the_configured_partition_count(overlay: Rendered) -> None:
    # Faust creates its changelog topics with SWITCHBOARD_PARTITIONS; co-partitioning with
    # raw-notifications needs the same count.
    counts = {name: t["spec"]["partitions"] for name, t in _topics(overlay).items()}
    assert set(counts.values()) == {overlay.partitions}, counts


def test_topics_name_the_cluster_the_workers_connect_to(overlay: Rendered) -> None:
    bootstrap = overlay.config()["SWITCHBOARD_KAFKA_BOOTSTRAP"]
    for topic in overlay.of_kind("KafkaTopic"):
        cluster = topic["metadata"]["labels"]["strimzi.io/cluster"]
        namespace = topic["metadata"]["namespace"]
        assert bootstrap.startswith(f"{cluster}-kafka-bootstrap.{namespace}.svc:"), (
            f"{topic['metadata']['name']} is for cluster {cluster} in {namespace}, "
            f"but the workers connect to {bootstrap}"
        )


def test_topics_stay_in_the_kafka_namespace(overlay: Rendered) -> None:
    app_namespaces = {o["metadata"].get("namespace") for o in overlay.of_kind("Deployment")}
    for topic in overlay.of_kind("KafkaTopic"):
        assert topic["metadata"]["namespace"] not in app_namespaces


def test_workers_create_topics_with_the_same_replication(overlay: Rendered) -> None:
    # The workers create Faust's changelogs (and any missing topic) with this factor.
    replication = int(overlay.config()["SWITCHBOARD_REPLICATION"])
    assert {t["spec"]["replicas"] for t in overlay.of_kind("KafkaTopic")} == {replication}


def test_replication_tolerates_a_broker_down(overlay: Rendered) -> None:
    for name, topic in _topics(overlay).items():
        replicas = topic["spec"]["replicas"]
        min_isr = int(topic["spec"]["config"]["min.insync.replicas"])
        assert 1 <= min_isr <= replicas, name
        if replicas > 1:
            assert min_isr < replicas, f"{name}: one broker down would stop every write"


def test_prod_topics_have_three_replicas_two_in_sync(prod: Rendered) -> None:
    for name, topic in _topics(prod).items():
        assert topic["spec"]["replicas"] == 3, name
        assert int(topic["spec"]["config"]["min.insync.replicas"]) == 2, name


def test_raw_topic_is_kept_long_enough_to_rebuild_tables(overlay: Rendered) -> None:
    topics = _topics(overlay)
    raw = _retention_ms(topics[RAW_NOTIFICATIONS])
    assert raw >= 7 * DAY_MS
    assert all(raw >= _retention_ms(t) for t in topics.values())


def test_workers_never_outnumber_partitions(overlay: Rendered) -> None:
    worker = overlay.named("StatefulSet", "switchboard-worker")
    assert worker["spec"].get("replicas", 1) <= overlay.partitions
    for scaled in overlay.of_kind("ScaledObject"):
        spec = scaled["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= overlay.partitions


def test_keda_scales_the_worker_group_on_raw_lag(prod: Rendered) -> None:
    (scaled,) = prod.of_kind("ScaledObject")
    target = scaled["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("StatefulSet", "switchboard-worker")
    prod.named("StatefulSet", target["name"])
    # KEDA owns the replica count; a replicas field would be reset on every apply.
    assert "replicas" not in prod.named("StatefulSet", "switchboard-worker")["spec"]
    (trigger,) = scaled["spec"]["triggers"]
    config = prod.config()
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["topic"] == RAW_NOTIFICATIONS
    assert trigger["metadata"]["consumerGroup"] == config["SWITCHBOARD_APP_ID"]
    assert trigger["metadata"]["bootstrapServers"] == config["SWITCHBOARD_KAFKA_BOOTSTRAP"]
    assert trigger["metadata"]["allowIdleConsumers"] == "false"
