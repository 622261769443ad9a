"""The worker's Kafka producer: Faust's aiokafka producer, batched and made durable.

Throughput. A record sent through aiokafka's `send()` (a future per record), or through
a Faust table changelog, costs more than the rest of an event's work. The agent's records
(per-type topics, conflicts, dead letters) and the changelog records (streams.store) are
therefore appended, synchronously, to one aiokafka BatchBuilder per topic-partition and
shipped as whole batches (`send_batch`, one future per batch): when a batch is full,
when the oldest open batch has waited `linger_s` (then all open batches go, so aiokafka
packs them into one produce request), when `max_pending` records wait, and on flush.
Batches of one topic-partition are shipped in order, one at a time (aiokafka waits for
the previous batch of a partition to drain), so the order within a partition is kept.

Durability. Faust commits a source offset only after `producer.flush()` returned
(faust/transport/consumer.py `_commit_offsets`). Here flush ships every open batch and
waits until all are acknowledged, and drains Faust's own buffer, whose `flush()` gives up
after 0.1 s without progress (the Faust internals this takes are in streams.faustfence).
Idempotence (acks=all) is on, which Faust only does in exactly-once mode. A batch that
fails after aiokafka's retries makes every later flush raise, and nothing more is
shipped: no offset is committed past it, no later record of its partition lands after
the gap (streams.watermarks relies on that; the broker's idempotence sequence check
refuses one that aiokafka had already queued), the consumer crashes and the worker exits
(exit status 1), and whoever owns the partition next processes the events again.
"""

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from faust.exceptions import ProducerSendError
from faust.types.tuples import TP, RecordMetadata
from mode import Service

from streams.faustfence import FencedProducer

Delivered = Callable[[TP, int], None]  # (topic-partition, offset of its last record)


class _OpenBatch:
    __slots__ = ("builder", "callbacks", "since")

    def __init__(self, builder: Any) -> None:
        self.builder = builder
        self.since = time.monotonic()
        self.callbacks: set[Delivered] = set()  # one call per batch, not per record


class BatchingProducer(FencedProducer):
    """Faust's aiokafka Producer with `append()`: batched, ordered, flushed before commits."""

    # Idempotent (the broker drops a batch aiokafka retries), which Faust only turns on
    # in exactly-once mode.
    client_settings = {"acks": "all", "enable_idempotence": True}
    # Kafka Streams' producer linger too: half as many batches as at 50 ms (each costs
    # aiokafka ~10 µs to build, queue and send): 5-10 µs less per event in A/B runs, for
    # up to 50 ms more before a subscriber sees a record (the tables do not wait for it).
    linger_s = 0.1
    max_pending = 20_000
    _failure: BaseException | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._open: dict[TP, _OpenBatch] = {}
        self._oldest = 0.0  # monotonic time of the oldest open batch, 0 when none
        self._pending = 0
        self._full: list[tuple[TP, _OpenBatch]] = []
        self._shipping = asyncio.Lock()
        self._in_flight: set[asyncio.Future[Any]] = set()

    def append(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
        on_delivered: Delivered | None = None,
    ) -> None:
        """Queue one record; it is sent by the next ship() or flush(), never later."""
        tp = TP(topic, partition)
        batch = self._open.get(tp)
        for _ in range(2):
            if batch is None:
                batch = self._open[tp] = _OpenBatch(self.aiokafka_producer().create_batch())
                self._oldest = self._oldest or batch.since
            if batch.builder.append(timestamp=None, key=key, value=value, headers=list(headers)):
                if on_delivered is not None:
                    batch.callbacks.add(on_delivered)
                self._pending += 1
                return
            self._full.append((tp, self._open.pop(tp)))  # full: ship it, open another
            batch = None
        raise ProducerSendError(f"record for {topic} larger than a whole batch")

    def has_due(self) -> bool:
        return bool(
            self._full
            or self._pending >= self.max_pending
            or (self._oldest and time.monotonic() - self._oldest >= self.linger_s)
        )

    async def ship(self, *, everything: bool = False) -> None:
        """Hand full batches, and all open ones when due (or asked), to aiokafka, in order.

        Shielded: the batches are taken out of `_open` before they are handed over, so a
        caller cancelled halfway (the consumer's fetch loop gives up a hand-over when a
        rebalance starts, streams.consumer) must not take the rest with it; they would
        be in no batch a flush ships, and their source offsets would be committed."""
        await asyncio.shield(self._ship(everything))

    async def _ship(self, everything: bool) -> None:
        async with self._shipping:
            if self._failure is not None:
                # Nothing more after a lost batch: a later batch of the same partition on
                # the topic would mark the lost one as written (streams.watermarks).
                raise ProducerSendError(f"a batch was not delivered: {self._failure!r}")
            ready, self._full = self._full, []
            if everything or self.has_due():
                ready += list(self._open.items())
                self._open.clear()
                self._oldest, self._pending = 0.0, 0
            aiokafka = self.aiokafka_producer()
            for tp, batch in ready:
                try:
                    future = await aiokafka.send_batch(
                        batch.builder, tp.topic, partition=tp.partition
                    )
                except Exception as exc:  # lost batch: stop committing, let the worker stop
                    self._failure = exc
                    raise
                count = batch.builder.record_count()
                self._in_flight.add(future)
                future.add_done_callback(lambda f, b=batch, n=count: self._done(f, b, n))

    def _done(
        self, future: "asyncio.Future[RecordMetadata]", batch: _OpenBatch, count: int
    ) -> None:
        self._in_flight.discard(future)
        if future.cancelled() or future.exception() is not None:
            self._failure = future.exception() or asyncio.CancelledError()
            return
        meta = future.result()
        if meta.offset < 0:
            # A retry the broker had written already (DuplicateSequenceNumber): aiokafka
            # reports success without the offset. Delivered; nothing to say where.
            return
        for callback in batch.callbacks:
            callback(TP(meta.topic, meta.partition), meta.offset + count - 1)

    async def learn_topics(self, topics: Iterable[str]) -> None:
        """Where every partition of `topics` lives, from one metadata request, now.

        Otherwise aiokafka looks a topic up when the first batch for it is handed over
        (ship), one metadata round per topic, one after another, while the fetch loop
        waits: a dozen rounds before the first events' outputs and changelogs leave."""
        client = self.aiokafka_producer().client
        await asyncio.gather(*[client.add_topic(topic) for topic in topics])

    @Service.task
    async def _ship_lingering(self) -> None:
        while not self.should_stop:
            await self.sleep(self.linger_s)
            if self.has_client and self.has_due():
                await self.ship()

    async def flush(self) -> None:
        if self.has_client:
            await self.ship(everything=True)
        await self.drain_buffer()  # records sent through Faust's own send()
        await super().flush()
        if self._in_flight:
            await asyncio.wait(list(self._in_flight))
        if self._failure is not None:
            raise ProducerSendError(f"a batch was not delivered: {self._failure!r}")
