"""Helpers of the integration tests: consumer lag, caught-up waits, view queries. The worker
processes, topic helpers and tenants file are switchboard/harness.py (bench/ uses them too),
re-exported here."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from switchboard.harness import (
    OTHER_TOKEN as OTHER_TOKEN,
)
from switchboard.harness import (
    REPO as REPO,
)
from switchboard.harness import (
    TOKEN as TOKEN,
)
from switchboard.harness import (
    Record as Record,
)
from switchboard.harness import (
    WorkerGroup as WorkerGroup,
)
from switchboard.harness import (
    WorkerProcess as WorkerProcess,
)
from switchboard.harness import (
    consume as consume,
)
from switchboard.harness import (
    create_topic as create_topic,
)
from switchboard.harness import (
    gateway_headers as gateway_headers,
)
from switchboard.harness import (
    produce as produce,
)
from switchboard.harness import (
    worker_tenants as worker_tenants,
)
from tests.examples import example_bytes as example_bytes


async def lag(bootstrap: str, group: str, topic: str, partitions: int = 8) -> int:
    """Records of `topic` the consumer group has not committed yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        await consumer.stop()
        await admin.close()
    done = {tp: meta.offset for tp, meta in committed.items() if tp.topic == topic}
    return sum(end - max(done.get(tp, 0), 0) for tp, end in ends.items())


async def wait_caught_up(
    bootstrap: str, group: str, topic: str, partitions: int = 8, limit_s: float = 120.0
) -> None:
    """Until the group has committed every record of `topic` (so all of them are applied)."""
    deadline = time.monotonic() + limit_s
    remaining = -1
    while time.monotonic() < deadline:
        remaining = await lag(bootstrap, group, topic, partitions)
        if remaining == 0:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"group {group} still {remaining} records behind on {topic}")


def query(url: str, token: str | None = TOKEN) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url, headers=headers, timeout=10)
    return response.status_code, response.json()
