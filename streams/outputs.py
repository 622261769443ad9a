"""What the worker writes to its output topics, once: forwarding a record, and the output
marks that say what each topic already holds, read afresh at every assignment.

Every record keeps its key (the organization), so a per-type topic has the same order per
organization as raw-notifications. Values stay the original bytes: consumers parse them
with the schemas models, there is no second encoding to keep in sync.
"""

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka.record.default_records import DefaultRecordBatchBuilder
from faust.types import TP
from mode.types.signals import BaseSignalT

from schemas import headers as h
from schemas import topics as names
from streams.app import app, settings
from streams.errors import TooLargeForTopicError
from streams.records import SourceRecord
from streams.topics import raw_notifications_topic
from streams.watermarks import KafkaTails, Watermarks

log = logging.getLogger(__name__)
Headers = Sequence[tuple[str, bytes]]

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


def publish(topic: str, record: SourceRecord, headers: Headers) -> bool:
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
    watermarks.wrote(topic, record.partition, record.offset)
    return True


MARKS_AT_ASSIGNMENT_S = 10.0  # then the first event of a partition reads its marks


def assigned_partitions() -> set[int]:
    """The raw-notifications partitions this worker owns now."""
    return source_partitions(app.assignor.assigned_actives())


def source_partitions(tps: Iterable[TP]) -> set[int]:
    source = raw_notifications_topic.get_topic_name()
    return {tp.partition for tp in tps if tp.topic == source}


def forget_revoked(sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any) -> None:
    """A partition lost may come back after another worker wrote to its outputs."""
    watermarks.forget(source_partitions(args[0]))


async def read_assigned(
    sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any
) -> None:
    """Partitions (re)assigned: read their output marks afresh, now, while Faust keeps
    them paused (no event waits, no buffer fills). If Kafka is too slow for that, the
    first event of each partition reads them instead (route_notifications)."""
    partitions = source_partitions(args[0])
    watermarks.forget(partitions)
    try:
        await asyncio.wait_for(watermarks.load(partitions), MARKS_AT_ASSIGNMENT_S)
    except TimeoutError:
        log.warning("output marks not read at assignment; the first events will read them")


async def learn_written_topics(
    sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any
) -> None:
    """Partitions (re)assigned: the producer learns now, in one request, where the
    partitions of every topic the worker writes live (outputs and table changelogs), not
    one topic at a time on the first events (streams.producer.learn_topics)."""
    topics = [settings.topic(name) for name in OUTPUT_TOPICS] + [
        table.changelog_topic.get_topic_name() for table in app.tables.values()
    ]
    try:
        await asyncio.wait_for(app.batching_producer.learn_topics(topics), MARKS_AT_ASSIGNMENT_S)
    except TimeoutError:
        log.warning("output topics not known at assignment; the first records look them up")


app.on_partitions_revoked.connect(forget_revoked)
app.on_partitions_assigned.connect(read_assigned)
app.on_partitions_assigned.connect(learn_written_topics)
