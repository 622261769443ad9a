"""Putting a notification durably into Kafka, or saying clearly that we could not.

`KafkaPublisher` wraps one aiokafka producer with acks=all and idempotence: the broker
acknowledges a record only once every in-sync replica has it, and the producer's retries
(it retries in-flight batches until they succeed) cannot duplicate or reorder records of
a partition. Records of concurrent requests share batches (linger_ms, gateway.batching),
while each request awaits the acknowledgement of its own record's batch, so the gateway
answers 202 only for stored records.

A request waits at most publish_timeout_s; then it gets 503 although its record may
still be written later (the sender retries, the stream workers dedupe on notificationId).
A background task probes the broker every health_interval_s: while it is unreachable,
requests get 503 at once instead of waiting, and /readyz says 503. The producer is the
same before and after an outage; it is replaced, at once and without a restart, only when
a batch it had taken failed (its idempotent sequence has a gap) or after a fatal error.
"""

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from gateway.batching import RecordBatcher
from gateway.config import GatewaySettings
from gateway.errors import (
    KafkaUnavailableError,
    PublishError,
    PublishTimeoutError,
)
from gateway.errors import RecordTooLargeError as TooLargeForKafka
from gateway.partitioning import partition_for_key

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]
_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)
_CONNECT_ERRORS = (KafkaError, OSError, TimeoutError)


def _record_size(key: bytes, value: bytes, headers: Headers) -> int:
    """An upper bound of the record batch holding this one record (v2 format overhead)."""
    return 128 + len(key) + len(value) + sum(len(name) + len(data) + 10 for name, data in headers)


class Publisher(Protocol):
    """Where accepted notifications go. `publish` returns only once the record is stored."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def ready(self) -> bool: ...

    async def publish(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None: ...


class KafkaPublisher:
    def __init__(self, settings: GatewaySettings) -> None:
        self._settings = settings
        self._bootstrap = settings.kafka_bootstrap
        self._producer: AIOKafkaProducer | None = None
        self._batcher: RecordBatcher | None = None
        self._reachable = False
        self._broken = False
        self._connect_failures = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()  # set when the producer broke: replace it now
        self._tracked: set[str] = set()  # topics whose metadata the producer refreshes
        self._last_ack = 0.0  # monotonic time of the last acknowledged publish

    def ready(self) -> bool:
        return self._producer is not None and self._reachable and not self._broken

    async def start(self) -> None:
        """Connect if the broker answers now; in any case keep watching in the background."""
        await self._connect()
        self._task = asyncio.create_task(self._watch(), name="kafka-publisher-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer is not None:
            await self._close(self._producer, self._batcher)
            self._producer = self._batcher = None
            log.info("Kafka producer closed")

    async def publish(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        batcher, retry = self._batcher, self._settings.unavailable_retry_after_s
        if batcher is None or not self.ready():
            raise KafkaUnavailableError("Kafka is unreachable; nothing was stored", retry)
        if _record_size(key, value, headers) > self._settings.kafka_max_message_bytes:
            raise TooLargeForKafka("the notification is larger than Kafka accepts")
        if topic not in self._tracked and self._producer is not None:
            self._track(self._producer, topic)
        timeout = self._settings.publish_timeout_s
        try:
            async with asyncio.timeout(timeout):
                await (await batcher.add(topic, key, value, headers))
            self._last_ack = time.monotonic()
        except TimeoutError:
            raise PublishTimeoutError(
                f"Kafka did not acknowledge the notification within {timeout:g} s", retry
            ) from None
        except KafkaError as exc:
            if isinstance(exc, _TOO_LARGE):
                raise TooLargeForKafka("the notification is larger than Kafka accepts") from None
            raise PublishError("Kafka refused the notification; nothing was stored", retry) from exc

    def _on_batch_failure(self, producer: AIOKafkaProducer, exc: KafkaError, sent: bool) -> None:
        """A batch the broker refused leaves a gap in the idempotent sequence numbers: the
        partition's next batches would fail too, so the producer is replaced at once."""
        log.warning("a batch for Kafka failed: %r", exc)
        if producer is self._producer and (sent or not exc.retriable):
            self._broken = True
            self._wake.set()

    def _new_producer(self) -> AIOKafkaProducer:
        s = self._settings
        return AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap,
            client_id="switchboard-gateway",
            acks="all",
            enable_idempotence=True,
            linger_ms=0,  # the RecordBatcher lingers; a batch it submits goes out at once
            # A batch over the topic's max.message.bytes would be refused whole.
            max_batch_size=min(s.max_batch_bytes, s.kafka_max_message_bytes),
            max_request_size=s.kafka_max_message_bytes,
            request_timeout_ms=s.kafka_request_timeout_ms,
            retry_backoff_ms=100,
            partitioner=partition_for_key,
        )

    async def _connect(self) -> bool:
        producer = self._new_producer()
        try:
            await asyncio.wait_for(producer.start(), self._settings.kafka_request_timeout_ms / 1000)
        except _CONNECT_ERRORS as exc:
            # Said once per outage; the retries every health_interval_s are debug noise.
            level = logging.DEBUG if self._connect_failures else logging.WARNING
            log.log(level, "cannot connect to Kafka at %s, retrying: %r", self._bootstrap, exc)
            self._connect_failures += 1
            await self._close(producer, None)
            return False
        self._connect_failures = 0
        old, old_batcher = self._producer, self._batcher
        self._producer = producer
        self._batcher = RecordBatcher(
            producer,
            self._settings.linger_ms / 1000,
            functools.partial(self._on_batch_failure, producer),
        )
        self._reachable, self._broken = True, False
        self._tracked = set()
        self._track(producer, self._settings.raw_topic)
        log.info("Kafka producer connected to %s", self._bootstrap)
        if old is not None:
            await self._close(old, old_batcher)
        return True

    def _track(self, producer: AIOKafkaProducer, topic: str) -> None:
        """Keep the producer's metadata to the topics it writes. A client tracking none
        refreshes the metadata of every topic of the cluster (the probe does so each
        second), and aiokafka only starts tracking a topic it did not know yet."""
        producer.client.add_topic(topic)
        self._tracked.add(topic)

    async def _watch(self) -> None:
        interval = self._settings.health_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            if self._producer is None or self._broken:
                await self._connect()
                continue
            window = max(1.0, 2 * interval)
            reachable = await self._probe(self._producer, within_s=window)
            # With one broker of several killed, the metadata probe stalls until the cluster
            # fences it (~9 s) while partitions led by the others still acknowledge: fresh
            # acknowledgements prove Kafka reachable. In a full outage they stop at once.
            reachable = reachable or time.monotonic() - self._last_ack < window
            if reachable != self._reachable:
                log.warning("Kafka %s", "reachable again" if reachable else "unreachable")
            self._reachable = reachable

    @staticmethod
    async def _probe(producer: AIOKafkaProducer, within_s: float) -> bool:
        """A metadata round trip for the producer's own topics (not the whole cluster's)."""
        try:
            updated: bool = await asyncio.wait_for(
                producer.client.force_metadata_update(), within_s
            )
        except _CONNECT_ERRORS:
            return False
        return updated

    async def _close(self, producer: AIOKafkaProducer, batcher: RecordBatcher | None) -> None:
        # Flushing: an idempotent producer retries forever, so bound the wait. Records
        # still unacknowledged here belong to requests already answered 503.
        within = 2 * self._settings.publish_timeout_s
        try:
            if batcher is not None:
                await asyncio.wait_for(batcher.close(), within)
            await asyncio.wait_for(producer.stop(), within)
        except (*_CONNECT_ERRORS, RuntimeError) as exc:
            log.warning("Kafka producer did not close cleanly: %r", exc)
