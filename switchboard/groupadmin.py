"""The Kafka operations of a table rebuild (switchboard.rebuild), over aiokafka's clients
with the workers' own connection and security settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from streams.config import WorkerSettings


class Kafka:
    """The admin client and a group-less consumer the rebuild talks to Kafka through."""

    def __init__(self, settings: WorkerSettings) -> None:
        options: dict[str, Any] = {
            "bootstrap_servers": settings.kafka_bootstrap,
            **settings.aiokafka_security(),
        }
        self.settings = settings
        self.options = options
        self.admin = AIOKafkaAdminClient(**options)
        self.consumer = AIOKafkaConsumer(enable_auto_commit=False, **options)

    async def __aenter__(self) -> Kafka:
        await self.admin.start()
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def members(self, group: str) -> int:
        (response,) = await self.admin.describe_consumer_groups([group])
        return sum(len(g["members"]) for g in response.to_object()["groups"])

    async def committed(self, group: str, topic: str) -> dict[int, int]:
        offsets = await self.admin.list_consumer_group_offsets(group)
        return {tp.partition: m.offset for tp, m in offsets.items() if tp.topic == topic}

    async def commit(self, group: str, offsets: dict[TopicPartition, int]) -> None:
        """Commit `offsets` for `group` without joining it (allowed while it is empty)."""
        consumer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **self.options)
        await consumer.start()
        try:
            consumer.assign(list(offsets))
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
        finally:
            await consumer.stop()

    async def ends(self, topics: Sequence[str]) -> dict[TopicPartition, int]:
        tps = [TopicPartition(t, p) for t in topics for p in range(self.settings.partitions)]
        return dict(await self.consumer.end_offsets(tps))

    async def delete_topics(self, topics: Sequence[str], limit_s: float = 60.0) -> None:
        """Delete `topics` and wait until the cluster no longer lists them: a topic still
        being deleted cannot be created again, and the replay worker creates them."""
        if not topics:
            return
        await self.admin.delete_topics(list(topics))
        deadline = time.monotonic() + limit_s
        while set(topics) & set(await self.admin.list_topics()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics still listed {limit_s}s after their deletion: {topics}")
            await asyncio.sleep(0.5)
