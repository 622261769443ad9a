"""The topics the worker reads and writes; names come from schemas.topics, plus the prefix.

Every record keeps its key (the organization), so a per-type topic has the same order per
organization as raw-notifications. Values stay the original bytes: consumers parse them
with the schemas models, there is no second encoding to keep in sync.
"""

from collections.abc import Sequence

from aiokafka.record.default_records import DefaultRecordBatchBuilder

from schemas import headers as h
from schemas import topics as names
from streams.app import app, settings
from streams.errors import TooLargeForTopicError
from streams.records import Incoming
from streams.watermarks import KafkaTails, Watermarks

Headers = Sequence[tuple[str, bytes]]

raw_notifications_topic = app.topic(
    settings.topic(names.RAW_NOTIFICATIONS),
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=settings.partitions,
)


def topics_to_create() -> list[str]:
    """Every topic of schemas.topics, prefixed; the worker creates them before it starts."""
    return [settings.topic(name) for name in names.ALL_TOPICS]


OUTPUT_TOPICS = (*names.PER_TYPE_TOPICS, names.DEAD_LETTER, names.CONFLICTS)

# What the outputs already hold, per source partition (streams.watermarks).
watermarks = Watermarks(
    KafkaTails(
        settings.kafka_bootstrap,
        settings.topic(names.RAW_NOTIFICATIONS),
        {settings.topic(name): name for name in OUTPUT_TOPICS},
        security=settings.aiokafka_security(),
        forwarded_below=settings.rebuild_forwarded_below,
    )
)


def publish(topic: str, record: Incoming, headers: Headers) -> bool:
    """Queue `record` for `topic` (a schemas.topics name, without prefix), with `headers`
    and its source offset; False, and nothing queued, when `topic` already holds it.
    TooLargeForTopicError, and nothing queued, when Kafka would refuse it.

    The partition is the source record's: the per-type topics are co-partitioned with
    raw-notifications (same count, same key), so this is the partition the key hashes
    to, and one organization stays in one partition end to end. Queued, not yet sent:
    the producer ships it within milliseconds and always before the source offset is
    committed (streams.producer), so it is on its topic before the event counts as done.
    """
    if watermarks.holds(topic, record.partition, record.offset):
        return False
    tagged = [
        *((name, value) for name, value in headers if name != h.SOURCE_OFFSET),
        (h.SOURCE_OFFSET, str(record.offset).encode()),
    ]
    size = DefaultRecordBatchBuilder.estimate_size_in_bytes(record.key, record.value, tagged)
    if size > settings.kafka_max_message_bytes:
        raise TooLargeForTopicError(
            f"{size} bytes for {topic}, whose records may have "
            f"{settings.kafka_max_message_bytes} (max.message.bytes)"
        )
    app.batching_producer.append(
        settings.topic(topic), record.partition, record.key, record.value, tagged
    )
    return True
