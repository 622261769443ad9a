"""streams.watermarks.KafkaTails against a real broker: the marks it reads from output tails."""

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from schemas import headers as h
from streams.watermarks import KafkaTails
from tests.integration.streams_fixtures import create_topic

pytestmark = pytest.mark.kafka

PARTITIONS = 2


def tagged(offset: int) -> list[tuple[str, bytes]]:
    return [("tenant", b"t"), (h.SOURCE_OFFSET, str(offset).encode())]


async def read_marks(
    bootstrap: str, prefix: str, *partitions: int, forwarded_below: dict[int, int] | None = None
) -> dict[int, dict[str, int]]:
    """Marks of `partitions` for outputs a, b and c, with {prefix}raw as the source."""
    outputs = {f"{prefix}{name}": name for name in ("a", "b", "c")}
    tails = KafkaTails(bootstrap, f"{prefix}raw", outputs, forwarded_below=forwarded_below)
    try:
        return await tails(partitions)
    finally:
        await tails.close()


async def put(
    bootstrap: str, topic: str, partition: int, headers: list[list[tuple[str, bytes]]]
) -> None:
    """One record per entry of `headers`, in order, to `topic` partition `partition`."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for header in headers:
            await (await producer.send(topic, b"v", partition=partition, headers=header))
    finally:
        await producer.stop()


async def setup(bootstrap: str, prefix: str, raw_records: int) -> None:
    """Topics raw, a, b, c; `raw_records` records on raw partition 0 (offsets from 0)."""
    for name in ("raw", "a", "b", "c"):
        await create_topic(bootstrap, f"{prefix}{name}", PARTITIONS)
    await put(bootstrap, f"{prefix}raw", 0, [[]] * raw_records)


def test_marks_name_the_last_source_offset_of_each_output_partition(
    kafka_bootstrap: str, unique_name: str
) -> None:
    prefix = f"{unique_name}-"

    async def scenario() -> tuple[dict[int, dict[str, int]], dict[int, dict[str, int]]]:
        await setup(kafka_bootstrap, prefix, raw_records=100)
        await put(kafka_bootstrap, f"{prefix}raw", 1, [[]] * 3)  # raw/1 offsets 0..2
        await put(kafka_bootstrap, f"{prefix}a", 0, [tagged(3), tagged(17), tagged(42)])
        await put(kafka_bootstrap, f"{prefix}b", 0, [tagged(5)])
        await put(kafka_bootstrap, f"{prefix}b", 1, [tagged(2)])  # another partition
        # c is empty
        return (
            await read_marks(kafka_bootstrap, prefix, 0, 1),
            await read_marks(kafka_bootstrap, prefix, 1),
        )

    both, one = asyncio.run(scenario())
    assert both == {0: {"a": 42, "b": 5}, 1: {"b": 2}}
    assert one == {1: {"b": 2}}


def test_a_last_record_without_the_header_gives_no_mark(
    kafka_bootstrap: str, unique_name: str
) -> None:
    prefix = f"{unique_name}-"

    async def scenario() -> dict[int, dict[str, int]]:
        await setup(kafka_bootstrap, prefix, raw_records=10)
        await put(kafka_bootstrap, f"{prefix}a", 0, [tagged(4), [("tenant", b"t")]])
        await put(kafka_bootstrap, f"{prefix}b", 0, [[(h.SOURCE_OFFSET, b"not-a-number")]])
        return await read_marks(kafka_bootstrap, prefix, 0)

    # Records of another writer, or of a version before source offsets: nothing is skipped.
    assert asyncio.run(scenario()) == {0: {}}


def test_marks_past_the_end_of_the_source_are_dropped(
    kafka_bootstrap: str, unique_name: str
) -> None:
    prefix = f"{unique_name}-"

    async def scenario() -> dict[int, dict[str, int]]:
        await setup(kafka_bootstrap, prefix, raw_records=10)  # raw/0 offsets 0..9
        await put(kafka_bootstrap, f"{prefix}a", 0, [tagged(9)])
        await put(kafka_bootstrap, f"{prefix}b", 0, [tagged(10)])  # raw recreated, say
        return await read_marks(kafka_bootstrap, prefix, 0)

    assert asyncio.run(scenario()) == {0: {"a": 9}}


def test_a_rebuild_floor_marks_every_output_even_an_empty_one(
    kafka_bootstrap: str, unique_name: str
) -> None:
    prefix = f"{unique_name}-"

    async def scenario() -> dict[int, dict[str, int]]:
        await setup(kafka_bootstrap, prefix, raw_records=10)
        await put(kafka_bootstrap, f"{prefix}a", 0, [tagged(8)])  # above the floor: kept
        await put(kafka_bootstrap, f"{prefix}b", 0, [tagged(2)])  # below it: raised
        # c is empty, as retention leaves an output partition no record reached for a while
        return await read_marks(kafka_bootstrap, prefix, 0, 1, forwarded_below={0: 6})

    # Source offsets 0..5 of partition 0 count as forwarded everywhere; partition 1 has
    # no floor and keeps what its tails say (nothing).
    assert asyncio.run(scenario()) == {0: {"a": 8, "b": 5, "c": 5}, 1: {}}
