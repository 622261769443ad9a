"""RecordBatcher against a fake producer: who shares a batch, and who hears the outcome."""

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaError, NotLeaderForPartitionError
from aiokafka.producer.message_accumulator import BatchBuilder

from gateway.batching import RecordBatcher
from gateway.partitioning import partition_for_key

LINGER_S = 0.01


class FakeProducer:
    """send_batch hands back a delivery future the test resolves, like the broker's ack."""

    def __init__(self, batch_size: int = 16_384, partitions: int = 3) -> None:
        self.batch_size = batch_size
        self.client = SimpleNamespace(
            cluster=SimpleNamespace(partitions_for_topic=lambda topic: set(range(partitions)))
        )
        self.submitted: list[tuple[str, int, BatchBuilder, asyncio.Future[None]]] = []

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> Any:
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.submitted.append((topic, partition, batch, delivery))
        return delivery

    def ack_all(self, error: Exception | None = None) -> None:
        for *_, delivery in self.submitted:
            if not delivery.done():
                if error is None:
                    delivery.set_result(None)
                else:
                    delivery.set_exception(error)


def batcher_for(producer: FakeProducer, failures: list[tuple[KafkaError, bool]]) -> RecordBatcher:
    def record(exc: KafkaError, sent: bool) -> None:
        failures.append((exc, sent))

    return RecordBatcher(producer, LINGER_S, record)  # type: ignore[arg-type,unused-ignore]


async def test_records_of_one_partition_share_a_batch_until_acknowledged() -> None:
    producer, failures = FakeProducer(), list[tuple[KafkaError, bool]]()
    batcher = batcher_for(producer, failures)
    waiters = [await batcher.add("t", b"org-1", b"v%d" % i, [("h", b"1")]) for i in range(5)]
    await asyncio.sleep(LINGER_S * 3)  # the linger expires: the batch is submitted
    assert len(producer.submitted) == 1
    topic, partition, batch, _ = producer.submitted[0]
    assert (topic, partition) == ("t", partition_for_key(b"org-1", [0, 1, 2], [0, 1, 2]))
    assert batch.record_count() == 5
    assert not any(w.done() for w in waiters)  # no ack, no answer
    producer.ack_all()
    await asyncio.gather(*waiters)
    assert failures == []


async def test_each_partition_gets_its_own_batch() -> None:
    producer = FakeProducer(partitions=3)
    batcher = batcher_for(producer, [])
    keys = [b"org-%d" % i for i in range(30)]
    waiters = [await batcher.add("t", key, b"v", []) for key in keys]
    batcher.flush()
    await asyncio.sleep(0)
    partitions = {partition_for_key(k, [0, 1, 2], [0, 1, 2]) for k in keys}
    assert sorted(p for _, p, _, _ in producer.submitted) == sorted(partitions)
    producer.ack_all()
    await asyncio.gather(*waiters)


async def test_a_full_batch_is_sent_and_another_opened() -> None:
    producer = FakeProducer(batch_size=300)
    batcher = batcher_for(producer, [])
    waiters = [await batcher.add("t", b"org", b"x" * 100, []) for _ in range(6)]
    batcher.flush()
    await asyncio.sleep(0)
    assert len(producer.submitted) > 1  # full batches go even while one is unacknowledged
    while not all(w.done() for w in waiters):
        producer.ack_all()
        await asyncio.sleep(0)
    assert sum(batch.record_count() for _, _, batch, _ in producer.submitted) == 6


async def test_a_busy_partition_keeps_filling_until_its_batch_is_acknowledged() -> None:
    producer = FakeProducer()
    batcher = batcher_for(producer, [])
    first = await batcher.add("t", b"org", b"v0", [])
    await asyncio.sleep(LINGER_S * 3)
    later = [await batcher.add("t", b"org", b"v%d" % i, []) for i in range(1, 4)]
    await asyncio.sleep(LINGER_S * 3)
    assert len(producer.submitted) == 1  # the linger passed, but one batch is out already
    producer.ack_all()
    await first
    await asyncio.sleep(0)
    assert [b.record_count() for _, _, b, _ in producer.submitted] == [1, 3]
    producer.ack_all()
    await asyncio.gather(*later)


@pytest.mark.parametrize("error", [NotLeaderForPartitionError(), RuntimeError("bug")])
async def test_a_failed_batch_fails_every_request_in_it(error: Exception) -> None:
    producer, failures = FakeProducer(), list[tuple[KafkaError, bool]]()
    batcher = batcher_for(producer, failures)
    waiters = [await batcher.add("t", b"org", b"v", []) for _ in range(3)]
    batcher.flush()
    await asyncio.sleep(0)
    producer.ack_all(error)
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, KafkaError) for r in results)
    [(reported, sent)] = failures
    assert sent and isinstance(reported, KafkaError)


async def test_a_request_that_gave_up_is_skipped() -> None:
    producer = FakeProducer()
    batcher = batcher_for(producer, [])
    gave_up = await batcher.add("t", b"org", b"v1", [])
    waiting = await batcher.add("t", b"org", b"v2", [])
    gave_up.cancel()  # what asyncio.timeout does to the request that timed out
    batcher.flush()
    await asyncio.sleep(0)
    producer.ack_all()
    await waiting
    assert producer.submitted[0][2].record_count() == 2  # its record is still written


async def test_close_submits_what_is_open_and_waits_for_the_outcome() -> None:
    producer = FakeProducer()
    batcher = batcher_for(producer, [])
    waiter = await batcher.add("t", b"org", b"v", [])
    closing = asyncio.create_task(batcher.close())
    await asyncio.sleep(LINGER_S / 10)  # well before the linger would have sent it
    assert len(producer.submitted) == 1 and not closing.done()
    producer.ack_all()
    await closing
    assert waiter.done()
