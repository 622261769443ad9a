"""BatchingProducer: batches per partition, in order, flushed completely, failures stop commits."""

import asyncio
from typing import Any

import pytest
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import RecordMetadata
from faust.exceptions import ProducerSendError

from streams.app import app
from streams.producer import BatchingProducer


class FakeAiokafka:
    """create_batch / send_batch / flush of AIOKafkaProducer, acknowledging on demand."""

    def __init__(self, batch_size: int = 16384) -> None:
        self.batch_size = batch_size
        self.sent: list[tuple[str, int, int]] = []
        self.futures: list[asyncio.Future[Any]] = []
        self.offsets: dict[tuple[str, int], int] = {}

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> Any:
        self.sent.append((topic, partition, batch.record_count()))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        return future

    def ack_all(self, error: Exception | None = None) -> None:
        for (topic, partition, count), future in zip(self.sent, self.futures, strict=True):
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
                continue
            base = self.offsets.get((topic, partition), 0)
            self.offsets[(topic, partition)] = base + count
            future.set_result(RecordMetadata(topic, partition, None, base, -1, 0, 0))

    async def flush(self) -> None:
        self.ack_all()


@pytest.fixture
def producer() -> tuple[BatchingProducer, FakeAiokafka]:
    made = BatchingProducer(app.transport)
    fake = FakeAiokafka()
    made._producer = fake
    return made, fake


def test_idempotence_and_acks_all_are_always_on(producer: Any) -> None:
    made, _ = producer
    assert made._settings_extra() == {"acks": "all", "enable_idempotence": True}


async def test_records_wait_for_linger_then_ship_together(producer: Any) -> None:
    made, fake = producer
    made.append("a", 0, b"k", b"1")
    made.append("a", 0, b"k", b"2")
    made.append("b", 3, b"k", None)
    assert not made.has_due()
    await made.ship()
    assert fake.sent == []
    made._oldest -= made.linger_s
    assert made.has_due()
    await made.ship()
    assert fake.sent == [("a", 0, 2), ("b", 3, 1)]
    assert not made.has_due()


async def test_a_full_batch_ships_first_and_order_is_kept(producer: Any) -> None:
    made, fake = producer
    fake.batch_size = 200
    for i in range(8):
        made.append("t", 1, b"key", b"v" * 40 + str(i).encode())
    assert made.has_due()  # a batch filled up
    await made.flush()
    assert [s[:2] for s in fake.sent] == [("t", 1)] * len(fake.sent)
    assert len(fake.sent) > 1 and sum(s[2] for s in fake.sent) == 8


async def test_delivery_callbacks_get_the_last_offset_once_per_batch(producer: Any) -> None:
    made, _fake = producer
    seen: list[tuple[Any, int]] = []

    def delivered(tp: Any, offset: int) -> None:
        seen.append((tp, offset))

    for _ in range(3):
        made.append("c", 2, b"k", b"v", on_delivered=delivered)
    await made.flush()
    assert [(tp.topic, tp.partition, off) for tp, off in seen] == [("c", 2, 2)]


async def test_a_batch_acknowledged_without_its_offset_calls_back_nothing(producer: Any) -> None:
    """aiokafka answers a retry the broker had written already (DuplicateSequenceNumber)
    as a success with offset -1: no persisted offset may be set from that."""
    made, fake = producer
    seen: list[int] = []
    made.append("c", 2, b"k", b"v", on_delivered=lambda tp, offset: seen.append(offset))
    await made.ship(everything=True)
    fake.futures[0].set_result(RecordMetadata("c", 2, None, -1, -1, 0, 0))
    await made.flush()
    assert seen == [] and made._failure is None


async def test_flush_waits_for_everything_and_a_lost_batch_stops_commits(producer: Any) -> None:
    made, fake = producer
    made.append("t", 0, b"k", b"v")
    await made.ship(everything=True)
    fake.ack_all(error=RuntimeError("broker gone"))
    await asyncio.sleep(0)
    with pytest.raises(ProducerSendError):
        await made.flush()
    made.append("t", 0, b"k", b"v")
    with pytest.raises(ProducerSendError):  # and every flush after it
        await made.flush()
    # Nothing shipped after the lost batch: a later record of the partition on the topic
    # would make the lost one look written to the next owner (streams.watermarks).
    assert len(fake.sent) == 1


async def test_a_refused_batch_is_a_failure_too(producer: Any) -> None:
    made, fake = producer

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("closed")

    fake.send_batch = refuse
    made.append("t", 0, b"k", b"v")
    with pytest.raises(RuntimeError):
        await made.ship(everything=True)
    with pytest.raises(ProducerSendError):
        await made.flush()


async def test_a_record_larger_than_a_batch_travels_alone(producer: Any) -> None:
    made, fake = producer
    fake.batch_size = 100
    made.append("t", 0, b"k", b"small")
    made.append("t", 0, b"k", b"v" * 10_000)
    await made.flush()
    assert fake.sent == [("t", 0, 1), ("t", 0, 1)]


async def test_a_caller_cancelled_while_shipping_loses_no_batch(producer: Any) -> None:
    """The consumer's fetch loop gives up a hand-over (cancels it) when a rebalance
    starts: batches already taken out of the open ones must still be handed over."""
    made, fake = producer
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    send_batch = fake.send_batch

    async def slow_first(batch: BatchBuilder, topic: str, *, partition: int) -> Any:
        if not fake.sent:
            await gate  # aiokafka waiting for room in its accumulator
        return await send_batch(batch, topic, partition=partition)

    fake.send_batch = slow_first
    made.append("a", 0, b"k", b"1")
    made.append("b", 1, b"k", b"2")
    caller = asyncio.ensure_future(made.ship(everything=True))
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    gate.set_result(None)
    flushing = asyncio.ensure_future(made.flush())
    for _ in range(10):
        await asyncio.sleep(0)
    fake.ack_all()
    await flushing
    assert fake.sent == [("a", 0, 1), ("b", 1, 1)]


class FakeMetadataClient:
    """AIOKafkaClient.add_topic: a new topic asks for a metadata update, answered later."""

    def __init__(self) -> None:
        self.added: list[str] = []
        self.update: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def add_topic(self, topic: str) -> asyncio.Future[bool]:
        self.added.append(topic)
        return self.update


async def test_every_topic_is_learned_from_one_metadata_update(
    producer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    made, fake = producer
    client = FakeMetadataClient()
    monkeypatch.setattr(fake, "client", client, raising=False)
    learning = asyncio.create_task(made.learn_topics(["a", "b", "c"]))
    await asyncio.sleep(0)
    # All three are tracked before the first update answers: one request covers them,
    # not one round per topic.
    assert client.added == ["a", "b", "c"] and not learning.done()
    client.update.set_result(True)
    await learning
