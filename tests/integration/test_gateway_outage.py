"""Kafka going away and coming back, on a broker of this test's own (never the shared one).

The gateway starts before Kafka (not ready, fast 503), becomes ready when the broker
starts, keeps answering while it is stopped (fast 503, /readyz 503) and recovers with the
same producer when it returns. Open-loop traffic runs throughout; at the end every
notification that got a 202 is on the topic.
"""

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.config import GatewaySettings
from switchboard import localkafka
from switchboard.tenantsfile import write_tenants
from tests.integration.streams_fixtures import create_topic
from tests.unit.gateway.support import ACME_TOKEN, apple_body, bearer, read_topic, tenants_config

pytestmark = pytest.mark.kafka

TOPIC = "raw-notifications"
PUBLISH_TIMEOUT_S = 2.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[localkafka.Cluster]:
    home = tmp_path / "kafka"
    cluster = localkafka.create(home, [localkafka.free_port()], [localkafka.free_port()])
    try:
        yield cluster
    finally:
        localkafka.stop(home)


@pytest.fixture
async def client(cluster: localkafka.Cluster, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        kafka_bootstrap=cluster.bootstrap,
        raw_topic=TOPIC,
        tenants_file=write_tenants(tmp_path / "tenants.yaml", tenants_config()),
        publish_timeout_s=PUBLISH_TIMEOUT_S,
        health_interval_s=0.25,
        kafka_request_timeout_ms=10_000,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


@dataclass
class Traffic:
    """Posts at a fixed rate without waiting for answers (open loop), recording outcomes."""

    client: httpx.AsyncClient
    accepted: list[str] = field(default_factory=list)
    refused: list[tuple[int, float]] = field(default_factory=list)  # (status, seconds)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, per_s: float = 40) -> None:
        while True:
            task = asyncio.create_task(self._one())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            await asyncio.sleep(1 / per_s)

    async def _one(self) -> None:
        body = apple_body()
        started = time.perf_counter()
        response = await self.client.post(
            "/v1/notifications", content=body, headers=bearer(ACME_TOKEN)
        )
        if response.status_code == 202:
            self.accepted.append(json.loads(body)["notificationId"])
        else:
            self.refused.append((response.status_code, time.perf_counter() - started))

    async def until_accepted(self, count: int, within_s: float) -> None:
        async with asyncio.timeout(within_s):
            while True:
                if len(self.accepted) >= count:
                    return
                await asyncio.sleep(0.05)


async def post_timed(client: httpx.AsyncClient) -> tuple[int, float]:
    started = time.perf_counter()
    response = await client.post(
        "/v1/notifications", content=apple_body(), headers=bearer(ACME_TOKEN)
    )
    return response.status_code, time.perf_counter() - started


async def until_ready(client: httpx.AsyncClient, ready: bool, within_s: float) -> None:
    async with asyncio.timeout(within_s):
        while True:
            if ((await client.get("/readyz")).status_code == 200) == ready:
                return
            await asyncio.sleep(0.1)


async def start_broker(cluster: localkafka.Cluster) -> None:
    await asyncio.to_thread(localkafka.start_node, cluster, 1)
    await asyncio.to_thread(localkafka.wait_ready, cluster, 120)


async def test_gateway_rides_out_a_kafka_outage(
    cluster: localkafka.Cluster, client: httpx.AsyncClient
) -> None:
    # Kafka not started yet: the gateway runs, says it is not ready, refuses at once.
    assert (await client.get("/readyz")).status_code == 503
    status, seconds = await post_timed(client)
    assert (status, seconds < 0.5) == (503, True)

    await start_broker(cluster)
    await create_topic(cluster.bootstrap, TOPIC, 3)  # the broker creates no topic itself
    await until_ready(client, True, within_s=60)
    traffic = Traffic(client)
    runner = asyncio.create_task(traffic.run())
    try:
        await traffic.until_accepted(20, within_s=30)

        await asyncio.to_thread(localkafka.kill_node, cluster, 1, signal.SIGTERM)
        await until_ready(client, False, within_s=10)
        status, seconds = await post_timed(client)
        assert (status, seconds < 0.5) == (503, True)

        before_restart = len(traffic.accepted)
        await start_broker(cluster)
        await until_ready(client, True, within_s=60)  # same app, same producer
        await traffic.until_accepted(before_restart + 20, within_s=60)
    finally:
        runner.cancel()
    await asyncio.gather(*traffic.tasks)

    assert traffic.refused, "the outage should have refused some requests"
    assert {status for status, _ in traffic.refused} == {503}
    assert max(seconds for _, seconds in traffic.refused) < PUBLISH_TIMEOUT_S + 1
    records = await read_topic(cluster.bootstrap, TOPIC, at_least=len(traffic.accepted))
    on_topic = {json.loads(record.value)["notificationId"] for record in records}
    missing = set(traffic.accepted) - on_topic
    assert not missing, f"{len(missing)} notifications answered 202 are not on the topic"
