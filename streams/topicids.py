"""The topic ids of the changelogs: what tells a topic from a namesake created after it.

Kafka gives every topic an id when it is created (KIP-516); a topic deleted and created
again under the same name gets a new one. Offsets cannot tell the two apart once the new
topic has grown past the old one's offsets, which is what a table rebuild leaves
(`switchboard tables rebuild` deletes the changelogs, and its replay refills them), so
streams.datadir compares ids too. aiokafka's metadata request (v5) predates topic ids:
they are read with librdkafka's admin client, with the same security settings.
"""

from collections.abc import Sequence

from confluent_kafka import KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient

from streams.config import WorkerSettings
from streams.errors import TopicSetupError


def topic_ids(
    settings: WorkerSettings, names: Sequence[str], timeout_s: float = 30
) -> dict[str, str]:
    """The id of each topic in `names` (they exist: the worker has just created them)."""
    admin = AdminClient(
        {"bootstrap.servers": settings.kafka_bootstrap, **settings.librdkafka_options()}
    )
    futures = admin.describe_topics(TopicCollection(list(names)), request_timeout=timeout_s)
    try:
        return {name: str(future.result().topic_id) for name, future in futures.items()}
    except KafkaException as exc:
        raise TopicSetupError(f"cannot describe the changelog topics: {exc}") from None
