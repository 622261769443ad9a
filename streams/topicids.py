"""The topic ids of the changelogs: what tells a topic from a namesake created after it.

Kafka gives every topic an id when it is created (KIP-516); a topic deleted and created
again under the same name gets a new one. Offsets cannot tell the two apart once the new
topic has grown past the old one's offsets, which is what a table rebuild leaves
(`switchboard tables rebuild` deletes the changelogs, and its replay refills them), so
streams.datadir compares ids too. aiokafka's metadata request (v5) predates topic ids:
they are read with librdkafka's admin client, with the same security settings.
"""

import time
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient

from streams.config import WorkerSettings
from streams.errors import TopicSetupError

RETRY_S = 0.2  # between two describes while a broker does not know a topic yet


def topic_ids(
    settings: WorkerSettings, names: Sequence[str], timeout_s: float = 30
) -> dict[str, str]:
    """The id of each topic in `names` (they exist: the worker has just created them)."""
    admin = AdminClient(
        {"bootstrap.servers": settings.kafka_bootstrap, **settings.librdkafka_options()}
    )
    deadline = time.monotonic() + timeout_s
    while True:
        futures = admin.describe_topics(TopicCollection(list(names)), request_timeout=timeout_s)
        try:
            return {name: str(future.result().topic_id) for name, future in futures.items()}
        except KafkaException as exc:
            # A broker that has not yet learnt of topics just created answers "unknown"
            # (KRaft metadata reaches each broker a moment later): ask again.
            unknown = exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
            if not unknown or time.monotonic() >= deadline:
                raise TopicSetupError(f"cannot describe the changelog topics: {exc}") from None
        time.sleep(RETRY_S)
