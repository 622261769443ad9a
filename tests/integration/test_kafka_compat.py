"""The chosen Kafka version works with the clients we ship: aiokafka produce with acks=all
and idempotence, consume, consumer groups splitting partitions and committing, transactions.
Kafka 4.0 removed old protocol versions (KIP-896); this is the proof that ours still speak."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from tests.integration.streams_fixtures import create_topic

pytestmark = pytest.mark.kafka


async def test_idempotent_produce_then_consume_with_headers(
    kafka_bootstrap: str, unique_name: str
) -> None:
    await create_topic(kafka_bootstrap, unique_name, 3)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        sent = await asyncio.gather(
            *[
                producer.send_and_wait(
                    unique_name,
                    f"v{i}".encode(),
                    key=f"k{i}".encode(),
                    headers=[("h", str(i).encode())],
                )
                for i in range(50)
            ]
        )
    finally:
        await producer.stop()
    assert len({(m.partition, m.offset) for m in sent}) == 50

    consumer = AIOKafkaConsumer(
        unique_name,
        bootstrap_servers=kafka_bootstrap,
        group_id=unique_name,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        got: list[ConsumerRecord[bytes, bytes]] = []
        async with asyncio.timeout(30):
            while len(got) < 50:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    got.extend(records)
        await consumer.commit()
        committed = {tp: await consumer.committed(tp) for tp in consumer.assignment()}
    finally:
        await consumer.stop()
    assert sorted(r.value for r in got) == sorted(f"v{i}".encode() for i in range(50))
    by_value = {r.value: r for r in got}
    assert by_value[b"v7"].key == b"k7"
    assert dict(by_value[b"v7"].headers) == {"h": b"7"}
    assert sum(committed.values()) == 50


async def test_consumer_group_splits_partitions(kafka_bootstrap: str, unique_name: str) -> None:
    await create_topic(kafka_bootstrap, unique_name, 4)
    consumers = [
        AIOKafkaConsumer(unique_name, bootstrap_servers=kafka_bootstrap, group_id=unique_name)
        for _ in range(2)
    ]
    for c in consumers:
        await c.start()
    try:
        async with asyncio.timeout(60):
            while True:
                await asyncio.gather(*[c.getmany(timeout_ms=200) for c in consumers])
                parts = [c.assignment() for c in consumers]
                if all(parts) and sum(len(p) for p in parts) == 4:
                    break
    finally:
        for c in consumers:
            await c.stop()
    assert parts[0].isdisjoint(parts[1])


async def test_transactions_are_allowed(kafka_bootstrap: str, unique_name: str) -> None:
    await create_topic(kafka_bootstrap, unique_name, 1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=unique_name)
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(unique_name, b"in-a-transaction")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        unique_name,
        bootstrap_servers=kafka_bootstrap,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert record.value == b"in-a-transaction"
