"""Start-up in any order: the gateway never creates raw-notifications, waits for it (not
ready, fast 503) and becomes ready once a worker has created it, without a restart.

On a broker of this module's own WITH auto.create.topics.enable=true, as `switchboard
kafka start` configured it before: there a metadata request for a missing topic used to
create it with 1 partition, and the worker then refused to start, forever.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.gateway_process import GatewayServer
from tests.integration.streams_fixtures import TOKEN, WorkerGroup, create_topic, example_bytes
from tests.kafka_node import single_node

pytestmark = pytest.mark.kafka

UID = "2049025000431439"  # the uId of Apple's ASSET_COUNT example (countDelta -12)


@pytest.fixture(scope="module")
def auto_creating_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("kafka-autocreate")
    with single_node(home, overrides={"auto.create.topics.enable": "true"}) as cluster:
        yield cluster.bootstrap


async def topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


def gateway_for(group: WorkerGroup, home: Path) -> GatewayServer:
    return GatewayServer(
        {
            "SWITCHBOARD_KAFKA_BOOTSTRAP": group.bootstrap,
            "SWITCHBOARD_TENANTS_FILE": str(group.tenants_file),
            "SWITCHBOARD_RAW_TOPIC": group.topic("raw-notifications"),
            "SWITCHBOARD_HEALTH_INTERVAL_S": "0.25",
        },
        home / "gateway.log",
    )


def post_asset_count(gateway: GatewayServer) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    body = example_bytes("apple_asset_count")
    return httpx.post(f"{gateway.url}/v1/notifications", content=body, headers=headers, timeout=10)


def test_the_gateway_waits_for_the_topic_and_never_creates_it(
    auto_creating_broker: str, tmp_path: Path
) -> None:
    group = WorkerGroup(auto_creating_broker, tmp_path, uids=[UID])
    raw = group.topic("raw-notifications")
    gateway = gateway_for(group, tmp_path)
    gateway.start()
    try:
        gateway.wait_status("/healthz", 200)
        missing = f"Kafka topic {raw} does not exist"
        deadline = time.monotonic() + 30
        while missing not in gateway.log():
            assert time.monotonic() < deadline, gateway.log()
            time.sleep(0.1)
        # Probes go on every 0.25 s; for 3 s of them the topic stays absent.
        until = time.monotonic() + 3
        while time.monotonic() < until:
            ready = httpx.get(f"{gateway.url}/readyz", timeout=5)
            assert ready.status_code == 503 and missing in ready.json()["detail"]
            time.sleep(0.05)  # a reader's pace, not a synchronisation
        started = time.monotonic()
        refused = post_asset_count(gateway)
        assert refused.status_code == 503 and time.monotonic() - started < 1.0
        assert "does not exist" in refused.json()["detail"]
        assert raw not in asyncio.run(topics(auto_creating_broker))
        # Once by the publisher; the answers' own lines (gateway.requests) quote it too.
        said = [line for line in gateway.lines("gateway.publisher") if missing in line["msg"]]
        assert len(said) == 1, "the missing topic is logged once"

        asyncio.run(create_topic(auto_creating_broker, raw, 4))
        gateway.wait_status("/readyz", 200, timeout=30)
        assert post_asset_count(gateway).status_code == 202
        assert f"Kafka topic {raw} exists now" in gateway.log()
    finally:
        gateway.stop()


@pytest.mark.parametrize("first", ["worker", "gateway"])
def test_worker_and_gateway_started_together_end_with_the_count_applied(
    auto_creating_broker: str, tmp_path: Path, first: str
) -> None:
    group = WorkerGroup(auto_creating_broker, tmp_path, uids=[UID], partitions=4)
    worker = group.add_worker()
    gateway = gateway_for(group, tmp_path)
    try:
        for process in (worker, gateway) if first == "worker" else (gateway, worker):
            process.start()  # one right after the other, neither waiting for the other
        worker.wait_ready(180)
        gateway.wait_status("/readyz", 200, timeout=60)
        assert post_asset_count(gateway).status_code == 202
        url = f"{worker.url}/v1/orgs/{UID}/asset-counts"
        want = [{"adamId": "408709785", "pricingParam": "STDQ", "count": -12, "baseline": None}]
        deadline, got = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            answer = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
            got = (answer.status_code, answer.json())
            if got == (200, want):
                break
            time.sleep(0.2)
        assert got == (200, want), f"{got}\n{worker.tail()}"
    finally:
        gateway.stop()
        group.stop()
