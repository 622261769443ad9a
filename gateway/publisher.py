"""Putting a notification durably into Kafka, or saying clearly that we could not.

`KafkaPublisher` wraps one librdkafka producer (confluent-kafka) with acks=all and
idempotence: the broker acknowledges a record only once every in-sync replica has it, and
the producer's retries cannot duplicate or reorder records of a partition. librdkafka
batches records per partition (linger.ms) and does the protocol work on its own threads,
off the event loop; the loop only hands it records and serves its delivery reports
(`_Producer`), which is what leaves one process's loop free for its requests. Each
request still awaits its own record's acknowledgement, so the gateway answers 202 only
for stored records.

Records are partitioned by the Java client's murmur2 of the key (`murmur2_random`), the
partitioner every Kafka producer and the stream workers' query routing
(streams.keys.partition_for) agree on.

A request waits at most publish_timeout_s (`_Deadlines`); then it gets 503 although its
record may still be written later, until librdkafka gives up on it at twice that (the
sender retries, the stream workers dedupe on notificationId). A background task probes
the broker every health_interval_s: while it is unreachable, requests get 503 at once
instead of waiting, and /readyz says 503. The same holds while the idempotent producer
has no producer id (librdkafka's statistics, every 250 ms, say so): on a fresh cluster
that can take seconds ("coordinator load in progress"), and nothing can be stored
meanwhile. And while raw-notifications does not exist: the gateway never creates a topic
(its metadata requests say allow_auto_topic_creation=false, so even a broker with
auto.create.topics.enable=true cannot create it with its default partition count); the
stream workers create it with the partitions the tables are co-partitioned on, and the
probe sees it within health_interval_s, without a restart. The producer is the same
before and after an outage; it is replaced, without a restart, only after a fatal error
(librdkafka's idempotence state cannot be recovered).
"""

import asyncio
import collections
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import confluent_kafka
import confluent_kafka.admin
import orjson
from confluent_kafka import KafkaError, KafkaException

from gateway.config import GatewaySettings
from gateway.errors import (
    KafkaUnavailableError,
    PublishError,
    PublishTimeoutError,
    SetupError,
)
from gateway.errors import RecordTooLargeError as TooLargeForKafka

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]
_TOO_LARGE = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_RECORD})
_NO_SUCH_TOPIC = KafkaError.UNKNOWN_TOPIC_OR_PART
_UNREACHABLE = frozenset({KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE})
# The broker refused the TLS handshake or the SASL credentials: retrying cannot help.
_REFUSED = frozenset(
    {KafkaError._AUTHENTICATION, KafkaError._SSL, KafkaError.SASL_AUTHENTICATION_FAILED}
)
_EXPIRY_TICK_S = 0.05
_START_WAIT_S = 5.0  # at start, for the producer id of a reachable cluster
_POLL_S = 0.001  # how often delivery reports are served while records are in flight


def _record_size(key: bytes, value: bytes, headers: Headers) -> int:
    """An upper bound of the record batch holding this one record (v2 format overhead)."""
    size = 128 + len(key) + len(value)
    for name, data in headers:
        size += len(name) + len(data) + 10
    return size


def check_credentials(settings: GatewaySettings, within_s: float = 10.0) -> None:
    """SetupError, in one line naming the settings to check, when the broker refuses this
    gateway's TLS or SASL credentials; called once before serving.

    Only a refusal stops the gateway: an unreachable broker does not (the gateway starts
    in any order and waits for Kafka, see KafkaPublisher). Without this check a wrong
    password would look like an outage forever: librdkafka retries the handshake and
    every request gets 503."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return  # nothing to authenticate
    refused: list[KafkaError] = []
    down: list[KafkaError] = []

    def on_error(error: KafkaError) -> None:
        (refused if error.code() in _REFUSED else down).append(error)

    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "client.id": "switchboard-gateway-check",
        "error_cb": on_error,
        "logger": logging.getLogger("gateway.librdkafka"),
        "log_level": 0,
        **settings.librdkafka_options(),
    }
    try:
        client = confluent_kafka.admin.AdminClient(config)
    except (KafkaException, OSError) as exc:  # e.g. a CA or key file librdkafka cannot load
        raise SetupError(_refusal_line(settings, str(exc))) from None
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and not refused:
        try:
            client.list_topics(timeout=0.5)
            return
        except KafkaException as exc:
            if exc.args[0].code() in _REFUSED:
                refused.append(exc.args[0])
        client.poll(0)  # serves error_cb
        if down and any(e.code() == KafkaError._ALL_BROKERS_DOWN for e in down) and not refused:
            return  # unreachable, not refused: the publisher waits for it
    if refused:
        raise SetupError(_refusal_line(settings, refused[0].str()))


def _refusal_line(settings: GatewaySettings, reason: str) -> str:
    reason = " ".join(reason.split())  # librdkafka's messages may span lines
    return (
        f"Kafka refused the gateway's credentials at {settings.kafka_bootstrap} "
        f"({reason}); check {settings.kafka_check_hint()}"
    )


class Publisher(Protocol):
    """Where accepted notifications go. `publish` returns only once the record is stored."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def ready(self) -> bool: ...

    def not_ready_reason(self) -> str: ...

    async def publish(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None: ...


class KafkaPublisher:
    def __init__(self, settings: GatewaySettings) -> None:
        self._settings = settings
        self._producer: _Producer | None = None
        self._deadlines: _Deadlines | None = None
        self._reachable = False
        self._topic_missing = False  # known once a broker answered the probe
        self._broken = False
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()  # set when the producer broke: replace it now

    def ready(self) -> bool:
        producer = self._producer
        return (
            producer is not None
            and producer.has_id
            and self._reachable
            and not self._topic_missing
            and not self._broken
        )

    def not_ready_reason(self) -> str:
        if self._reachable and self._topic_missing:
            return f"Kafka topic {self._settings.raw_topic} does not exist yet"
        return "Kafka is unreachable"

    async def start(self) -> None:
        """Connect if the broker answers now; in any case keep watching in the background."""
        loop = asyncio.get_running_loop()
        self._deadlines = _Deadlines(loop, self._settings.publish_timeout_s)
        self._producer = self._new_producer(loop)
        await self._check_reachable()
        if self._reachable:  # ready as soon as it can store, if that is soon
            await self._producer.wait_for_id(within_s=_START_WAIT_S)
        self._task = asyncio.create_task(self._watch(), name="kafka-publisher-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._producer is not None:
            await self._close(self._producer)
            self._producer = None
            log.info("Kafka producer closed")
        if self._deadlines is not None:
            self._deadlines.close()

    async def publish(self, topic: str, key: bytes, value: bytes, headers: Headers) -> None:
        producer, retry = self._producer, self._settings.unavailable_retry_after_s
        if producer is None or self._deadlines is None or not self.ready():
            raise KafkaUnavailableError(f"{self.not_ready_reason()}; nothing was stored", retry)
        if _record_size(key, value, headers) > self._settings.kafka_max_message_bytes:
            raise TooLargeForKafka("the notification is larger than Kafka accepts")
        try:
            delivery = producer.produce(topic, key, value, headers)
        except BufferError:
            full = "the gateway's Kafka queue is full; nothing was stored"
            raise PublishError(full, retry) from None
        except KafkaException as exc:
            raise self._refusal(exc.args[0]) from None
        self._deadlines.watch(delivery)
        error = await delivery
        if error is None:
            return
        if error is _Deadlines.EXPIRED:
            timeout = self._settings.publish_timeout_s
            raise PublishTimeoutError(
                f"Kafka did not acknowledge the notification within {timeout:g} s", retry
            )
        raise self._refusal(error)

    def _refusal(self, error: KafkaError) -> PublishError | TooLargeForKafka:
        if error.code() in _TOO_LARGE:
            return TooLargeForKafka("the notification is larger than Kafka accepts")
        retry = self._settings.unavailable_retry_after_s
        return PublishError(
            f"Kafka refused the notification ({error.name()}); nothing was stored", retry
        )

    def _new_producer(self, loop: asyncio.AbstractEventLoop) -> "_Producer":
        s = self._settings
        config = {
            "bootstrap.servers": s.kafka_bootstrap,
            "client.id": "switchboard-gateway",
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": s.linger_ms,
            "batch.size": min(s.max_batch_bytes, s.kafka_max_message_bytes),
            "message.max.bytes": s.kafka_max_message_bytes,
            "request.timeout.ms": s.kafka_request_timeout_ms,
            # librdkafka gives up on a record at twice the request's wait: a record a
            # request was answered 503 for is not written long after.
            "message.timeout.ms": int(2000 * s.publish_timeout_s),
            "retry.backoff.ms": 100,
            # The local queue's bound (librdkafka allows 1 GiB): past it, 503 at once.
            # 5,000 requests/s for the 5 s a record may wait, of 1-2 KiB, fit in 64 MiB.
            "queue.buffering.max.kbytes": 65_536,
            "reconnect.backoff.max.ms": 1000,
            "partitioner": "murmur2_random",
            # Metadata requests (the probe's, produce's) must never create a topic.
            "allow.auto.create.topics": False,
            "statistics.interval.ms": 250,  # for `has_id`
            # librdkafka logs through `log` (served by poll); its connection failures are
            # errors there, once a second during an outage: the probe says that once.
            "logger": logging.getLogger("gateway.librdkafka"),
            "log_level": 2,
            **s.librdkafka_options(),
        }
        return _Producer(config, loop, on_fatal=self._on_fatal)

    def _on_fatal(self, error: KafkaError) -> None:
        """librdkafka's idempotence state is lost (e.g. the broker refused a sequence):
        this producer can send nothing more, so it is replaced at once."""
        log.error("Kafka producer failed fatally, replacing it: %s", error)
        self._broken = True
        self._wake.set()

    async def _watch(self) -> None:
        interval = self._settings.health_interval_s
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            if self._broken and self._producer is not None:
                old, self._producer = self._producer, self._new_producer(loop)
                self._broken = False
                await self._close(old)
            await self._check_reachable()

    async def _check_reachable(self) -> None:
        producer = self._producer
        if producer is None:
            return
        producer.serve()  # errors and logs queue up while no record is in flight
        window = max(1.0, 2 * self._settings.health_interval_s)
        topic = self._settings.raw_topic
        exists = await producer.probe(topic, within_s=window)
        # With one broker of several killed, the metadata probe stalls until the cluster
        # fences it (~9 s) while partitions led by the others still acknowledge: fresh
        # acknowledgements prove Kafka reachable. In a full outage they stop at once.
        reachable = exists is not None or time.monotonic() - producer.last_ack < window
        if reachable != self._reachable:
            log.warning("Kafka %s", "reachable" if reachable else "unreachable")
        self._reachable = reachable
        if exists is not None and exists == self._topic_missing:
            self._topic_missing = not exists
            if exists:
                log.warning("Kafka topic %s exists now: the gateway is ready", topic)
            else:
                log.error(
                    "Kafka topic %s does not exist: not ready, every notification is answered "
                    "503 until it does. The gateway never creates topics; the stream workers "
                    "do (start `switchboard worker` with the same SWITCHBOARD_TOPIC_PREFIX), "
                    "or the deployment's topics job",
                    topic,
                )

    async def _close(self, producer: "_Producer") -> None:
        # Flushing: bound the wait. Records still unacknowledged here belong to requests
        # already answered 503, or about to be.
        left = await producer.close(within_s=2 * self._settings.publish_timeout_s)
        if left:
            log.warning("Kafka producer closed with %d records unacknowledged", left)


class _Producer:
    """One librdkafka producer, polled from the event loop.

    `produce` returns a future that resolves to None once the broker acknowledged the
    record, or to the KafkaError that lost it. librdkafka's own threads do the network
    work; its delivery reports wait in a queue that a timer of the loop serves every
    `_POLL_S` while records are in flight. No Python thread of ours: handing the GIL
    back and forth with a polling thread cost more than librdkafka saved."""

    def __init__(
        self,
        config: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
        on_fatal: Callable[[KafkaError], None],
    ) -> None:
        self._loop = loop
        self._on_fatal = on_fatal
        self._kafka = confluent_kafka.Producer(
            {**config, "error_cb": self._on_error, "stats_cb": self._on_statistics}
        )
        self._in_flight = 0
        self.has_id = False  # the idempotent producer id is assigned: records can be sent
        self._timer: asyncio.TimerHandle | None = None
        self.last_ack = 0.0  # monotonic time of the last acknowledged record

    def produce(
        self, topic: str, key: bytes, value: bytes, headers: Headers
    ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self._loop.create_future()
        self._kafka.produce(
            topic,
            value,
            key,
            headers=list(headers),
            on_delivery=functools.partial(self._delivered, future),
        )
        self._in_flight += 1
        if self._timer is None:
            self._timer = self._loop.call_later(_POLL_S, self._poll)
        return future

    async def probe(self, topic: str, within_s: float) -> bool | None:
        """A metadata round trip for the topic (not the whole cluster's), off the loop:
        whether the topic exists, or None if no broker answered."""
        try:
            metadata = await asyncio.to_thread(self._kafka.list_topics, topic, within_s)
        except KafkaException:
            return None
        found = metadata.topics.get(topic)
        # Other errors (no leader yet, just after creation) are the producer's to wait out.
        return found is not None and found.error != _NO_SUCH_TOPIC

    async def close(self, within_s: float) -> int:
        """Wait (at most `within_s`) for records in flight; the number left unsent."""
        deadline = self._loop.time() + within_s
        while self._in_flight and self._loop.time() < deadline:  # noqa: ASYNC110 (served by _poll)
            await asyncio.sleep(_POLL_S)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return self._in_flight  # len(producer) would count queued statistics too

    async def wait_for_id(self, within_s: float) -> bool:
        deadline = self._loop.time() + within_s
        while not self.has_id and self._loop.time() < deadline:
            self.serve()
            await asyncio.sleep(0.05)
        return self.has_id

    def serve(self) -> None:
        """Run the callbacks (_delivered, _on_error, logs) of what librdkafka queued."""
        self._kafka.poll(0)

    def _poll(self) -> None:
        self.serve()
        self._timer = self._loop.call_later(_POLL_S, self._poll) if self._in_flight else None

    def _delivered(self, future: asyncio.Future[Any], error: KafkaError | None, _: Any) -> None:
        self._in_flight -= 1
        if error is None:
            self.last_ack = time.monotonic()
        if not future.done():  # a request that timed out was answered already
            future.set_result(error)

    def _on_statistics(self, document: str) -> None:
        try:
            state = orjson.loads(document).get("eos", {}).get("idemp_state")
        except (orjson.JSONDecodeError, AttributeError):
            return
        has_id = state == "Assigned"
        if has_id != self.has_id:
            log.info("Kafka producer id %s (%s)", "assigned" if has_id else "lost", state)
        self.has_id = has_id

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._on_fatal(error)
        elif error.code() in _UNREACHABLE:  # the probe says that, once
            log.debug("Kafka producer: %s", error)
        else:
            log.warning("Kafka producer: %s", error)


class _Deadlines:
    """Answers a request that waited publish_timeout_s for its record with `EXPIRED`.

    One timer for all requests instead of one per request (a timer per request is CPU the
    event loop spends on every request): every request waits the same time, so deadlines
    come in the order requests do, and a tick settles the expired ones from the front of
    the queue."""

    EXPIRED = object()

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        self._loop = loop
        self._timeout_s = timeout_s
        self._queue: collections.deque[tuple[float, asyncio.Future[Any]]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, future: asyncio.Future[Any]) -> None:
        self._queue.append((self._loop.time() + self._timeout_s, future))
        if self._timer is None:
            self._timer = self._loop.call_later(_EXPIRY_TICK_S, self._tick)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        queue, now = self._queue, self._loop.time()
        while queue:
            deadline, future = queue[0]
            if future.done():
                queue.popleft()
            elif deadline <= now:
                queue.popleft()
                future.set_result(self.EXPIRED)
            else:
                break
        self._timer = self._loop.call_later(_EXPIRY_TICK_S, self._tick) if queue else None
