"""What each output partition already holds, so an event replayed after a crash is not
forwarded a second time.

Every record the worker writes (per-type topics, conflicts, dead letters) goes to the
partition number of its source record and carries the source offset in the
`source-offset` header (schemas.headers). Only the owner of raw-notifications partition p
writes to partition p of the outputs, and it writes in source order: one batch in flight
per partition (streams.producer), idempotent, and a batch that fails stops the worker.
So the last record of output partition (topic, p) names the highest source offset of p
already on that topic, and an event at or below it is skipped instead of forwarded.

The marks of a partition are read when the worker gets the partition, while Faust still
holds it paused (streams.agents; if that read is slow, the first event of the partition
waits for it instead), and forgotten when it loses it: the next owner reads them again,
after the previous owner flushed (a rebalance) or died (a crash). A worker
that is cut off but still alive while its partitions move can still write after the new
owner read: that case repeats records (at-least-once), it never loses one. While the
worker holds a partition its marks move with every record it queues (`wrote`), so a
record it processes a second time in the same assignment is not forwarded again.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import headers as h

log = logging.getLogger(__name__)

Marks = dict[str, int]  # output topic -> highest source offset it holds, per partition
Reader = Callable[[Collection[int]], Awaitable[dict[int, Marks]]]


class Watermarks:
    """Per source partition: the highest source offset each output topic already holds."""

    def __init__(self, read: Reader) -> None:
        self._read = read
        self._marks: dict[int, Marks] = {}
        self._loading = asyncio.Lock()

    def __contains__(self, partition: int) -> bool:
        return partition in self._marks

    async def load(self, partitions: Collection[int]) -> None:
        """Read the marks of those `partitions` not known yet, all in one go."""
        async with self._loading:
            missing = sorted(set(partitions) - set(self._marks))
            if missing:
                self._marks.update(await self._read(missing))

    def holds(self, topic: str, partition: int, offset: int) -> bool:
        """True when `topic` already has the record of source `offset` of `partition`."""
        return offset <= self._marks.get(partition, {}).get(topic, -1)

    def wrote(self, topic: str, partition: int, offset: int) -> None:
        """`topic` now has the record of source `offset` of `partition` queued: it is on
        the topic before the offset is committed, or the worker stops (streams.producer).
        So a record processed again in the same assignment is not forwarded twice."""
        marks = self._marks.get(partition)
        if marks is not None and offset > marks.get(topic, -1):
            marks[topic] = offset

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self._marks.pop(partition, None)


def source_offset(headers: Sequence[tuple[str, bytes]] | None) -> int | None:
    for name, value in headers or ():
        if name == h.SOURCE_OFFSET:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def floored(marks: Marks, names: Iterable[str], below: int) -> Marks:
    """`marks` with every output in `names` holding at least the source offsets under
    `below`: what a table rebuild knows of the records the worker group had committed
    (it commits only after their outputs were flushed), tail or no tail."""
    return {name: max(marks.get(name, -1), below - 1) for name in {*marks, *names}}


class KafkaTails:
    """Reads the last record of each output partition with a plain (group-less) consumer.

    `outputs` maps cluster topic names to the names marks are kept under; `source` is the
    raw-notifications topic: a mark at or past its end names a record that cannot exist
    (the source topic was recreated), so such marks are dropped with a warning rather than
    letting them hide new events. `forwarded_below` (a table rebuild only) raises every
    output's mark of a partition to just below that source offset (floored).
    """

    def __init__(
        self,
        bootstrap: str,
        source: str,
        outputs: dict[str, str],
        retry_s: float = 1.0,
        security: dict[str, Any] | None = None,
        forwarded_below: Mapping[int, int] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._forwarded_below = dict(forwarded_below or {})
        self._security = security or {}  # WorkerSettings.aiokafka_security()
        self._source = source
        self._outputs = outputs
        self._retry_s = retry_s
        self._consumer: AIOKafkaConsumer | None = None

    async def __call__(self, partitions: Collection[int]) -> dict[int, Marks]:
        """The marks of `partitions`; retried until Kafka answers (nothing can go on before)."""
        while True:
            try:
                return await asyncio.wait_for(self._read(partitions), timeout=30)
            except asyncio.CancelledError:
                await self.close()  # cut short mid-fetch: start from a fresh consumer
                raise
            except Exception as exc:
                log.warning(
                    "reading output marks failed; retrying",
                    extra={"fields": {"partitions": sorted(partitions), "error": repr(exc)}},
                )
                await self.close()
                await asyncio.sleep(self._retry_s)

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                # The last record is there or not: no need to wait for more data.
                fetch_max_wait_ms=10,
                client_id="switchboard-watermarks",
                **self._security,
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def _read(self, partitions: Collection[int]) -> dict[int, Marks]:
        started = time.monotonic()
        consumer = await self._started()
        outputs = [TopicPartition(t, p) for t in self._outputs for p in partitions]
        sources = [TopicPartition(self._source, p) for p in partitions]
        consumer.assign(outputs)
        ends = await consumer.end_offsets([*outputs, *sources])
        starts = await consumer.beginning_offsets(outputs)
        waiting = {tp: ends[tp] for tp in outputs if ends[tp] > starts[tp]}
        for tp in waiting:
            consumer.seek(tp, ends[tp] - 1)
        marks: dict[int, Marks] = {p: {} for p in partitions}
        while waiting:
            batches = await consumer.getmany(*waiting, timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    offset = source_offset(record.headers)
                    if offset is not None:
                        found, name = marks[tp.partition], self._outputs[tp.topic]
                        found[name] = max(found.get(name, -1), offset)
            for tp in [tp for tp, end in waiting.items() if await consumer.position(tp) >= end]:
                del waiting[tp]
        consumer.assign([])
        for partition, found in marks.items():
            end = ends[TopicPartition(self._source, partition)]
            impossible = {name: mark for name, mark in found.items() if mark >= end}
            if impossible:
                log.warning(
                    "output marks past the end of the source partition; ignored "
                    "(was %s recreated?)",
                    self._source,
                    extra={"fields": {"partition": partition, "marks": impossible}},
                )
                marks[partition] = {n: m for n, m in found.items() if n not in impossible}
            below = self._forwarded_below.get(partition)
            if below is not None:
                marks[partition] = floored(marks[partition], self._outputs.values(), below)
        ms = round((time.monotonic() - started) * 1000)
        log.info("output marks read", extra={"fields": {"marks": marks, "ms": ms}})
        return marks
