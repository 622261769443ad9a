"""Kafka for `switchboard dead-letters`: a throwaway reader and an idempotent publisher.

The reader assigns partitions itself and never commits, so no consumer group is joined
or left behind (librdkafka wants a group.id all the same: a random one, never used). It
reads each partition from its start up to the end offset taken before the first read,
then stops: what is dead-lettered meanwhile is for the next run. Neither client creates
a topic (allow.auto.create.topics=false, and a topic that is missing is an error before
anything is read or sent).

The publisher is librdkafka's idempotent producer with acks=all, as the gateway's
(gateway.publisher): a retried batch is neither duplicated nor reordered, and a record
counts as redriven only once every in-sync replica has it.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import confluent_kafka
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from switchboard.deadletters import DeadLetter, DeadLetterError, DeadLetterSettings, Record

TIMEOUT_S = 15.0  # for a broker's answer; then the command says which setting to check


def _common(settings: DeadLetterSettings) -> dict[str, Any]:
    return {
        "bootstrap.servers": settings.kafka_bootstrap,
        "client.id": "switchboard-dead-letters",
        "allow.auto.create.topics": False,
        "log_level": 2,
        **settings.librdkafka_options(),
    }


class Reader:
    def __init__(self, settings: DeadLetterSettings) -> None:
        self._settings = settings
        self._consumer = confluent_kafka.Consumer(
            {
                **_common(settings),
                "group.id": f"switchboard-dead-letters-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
            }
        )

    def close(self) -> None:
        self._consumer.close()

    def partitions(self, topic: str) -> int:
        """The partition count of `topic`; DeadLetterError if it does not exist."""
        try:
            metadata = self._consumer.list_topics(topic, timeout=TIMEOUT_S)
        except KafkaException as exc:
            raise DeadLetterError(
                f"Kafka at {self._settings.kafka_bootstrap} did not answer "
                f"({exc.args[0].str()}); "
                f"check SWITCHBOARD_KAFKA_BOOTSTRAP, {self._settings.kafka_check_hint()}"
            ) from None
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            prefix = self._settings.topic_prefix
            raise DeadLetterError(
                f"topic {topic} does not exist at {self._settings.kafka_bootstrap} "
                f"(SWITCHBOARD_TOPIC_PREFIX={prefix!r}; this command never creates topics)"
            )
        return len(found.partitions)

    def dead_letters(self, topic: str) -> Iterator[DeadLetter]:
        """Every record of `topic` up to its end offsets now, partition by partition."""
        count = self.partitions(topic)
        ranges = {p: self._range(topic, p) for p in range(count)}
        for partition, (low, high) in ranges.items():
            for message in self._read(topic, partition, low, high):
                _, ms = message.timestamp()
                yield DeadLetter(_record(message), partition, message.offset(), ms)

    def record_at(self, topic: str, partition: int, offset: int) -> Record | None:
        """The record at this position, None if it is gone (retention) or never was."""
        low, high = self._range(topic, partition)
        if not low <= offset < high:
            return None
        found = next(iter(self._read(topic, partition, offset, offset + 1)), None)
        return _record(found) if found is not None and found.offset() == offset else None

    def _range(self, topic: str, partition: int) -> tuple[int, int]:
        tp = TopicPartition(topic, partition)
        low, high = self._consumer.get_watermark_offsets(tp, timeout=TIMEOUT_S)
        return int(low), int(high)

    def _read(self, topic: str, partition: int, start: int, end: int) -> Iterator[Any]:
        """The messages of [start, end) of one partition (fewer if some are gone)."""
        if start >= end:
            return
        self._consumer.assign([TopicPartition(topic, partition, start)])
        quiet_since = time.monotonic()
        try:
            while True:
                messages = self._consumer.consume(num_messages=500, timeout=0.5)
                for message in messages:
                    error = message.error()
                    if error is not None:
                        raise DeadLetterError(f"reading {topic} failed: {error.str()}")
                    offset = message.offset() or 0
                    if offset >= end:
                        return
                    yield message
                    if offset >= end - 1:
                        return
                if messages:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > TIMEOUT_S:
                    raise DeadLetterError(
                        f"{topic}/{partition}: no record for {TIMEOUT_S:g} s before offset {end}"
                    )
        finally:
            self._consumer.unassign()


def _record(message: Any) -> Record:
    headers = tuple((str(k), bytes(v or b"")) for k, v in message.headers() or ())
    return Record(message.key(), message.value() or b"", headers)


class Publisher:
    """Idempotent, acks=all. `send` queues; `flush` waits for every acknowledgement."""

    def __init__(self, settings: DeadLetterSettings) -> None:
        self._producer = confluent_kafka.Producer(
            {
                **_common(settings),
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
                "partitioner": "murmur2_random",  # as the gateway's; the partition is given
            }
        )
        self.failures: list[str] = []

    def send(
        self,
        topic: str,
        partition: int,
        key: bytes,
        value: bytes,
        headers: Any,
        done: Callable[[bool], None],
    ) -> None:
        def delivered(error: KafkaError | None, _: Any) -> None:
            if error is not None:
                self.failures.append(error.str())
            done(error is None)

        while True:
            try:
                self._producer.produce(
                    topic,
                    value,
                    key,
                    partition=partition,
                    headers=list(headers),
                    on_delivery=delivered,
                )
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.1)
        self._producer.poll(0)

    def flush(self, within_s: float = 60.0) -> int:
        """Wait for the acknowledgements; the number of records still unacknowledged."""
        return int(self._producer.flush(within_s))
