"""The publish path against the real broker: what a 202 puts on raw-notifications.

Each seed example of the two reference documents, posted with valid credentials, is on
the topic with its exact bytes, the organization as key and the schemas.headers headers;
a refused request (403) puts nothing there; concurrent requests each get their own ack.
"""

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi import FastAPI

from gateway.app import create_app
from gateway.config import GatewaySettings
from schemas import headers as h
from streams.keys import partition_for
from switchboard.tenantsfile import write_tenants
from tests.examples import APPLE_EXAMPLES
from tests.unit.gateway.support import (
    ACME_TENANT_ID,
    ACME_TOKEN,
    ACME_UID,
    GLOBEX_UID,
    ams_jwt,
    apple_body,
    bearer,
    example_bytes,
    read_topic,
    tenants_config,
)

pytestmark = pytest.mark.kafka

HEADER_NAMES = {h.TENANT, h.SOURCE, h.RECEIVED_AT, h.CONTENT_SHA256, h.REQUEST_ID}


async def create_topic(
    bootstrap: str, name: str, partitions: int = 3, configs: dict[str, str] | None = None
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])
    finally:
        await admin.close()


@pytest.fixture
async def gateway(kafka_bootstrap: str, unique_name: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    await create_topic(kafka_bootstrap, unique_name)
    settings = GatewaySettings(
        kafka_bootstrap=kafka_bootstrap,
        raw_topic=unique_name,
        tenants_file=write_tenants(tmp_path / "tenants.yaml", tenants_config()),
        default_rate_limit_per_s=10_000,  # 300 requests at once from one tenant below
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(gateway: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


async def test_seed_examples_land_with_exact_bytes_key_and_headers(
    client: httpx.AsyncClient, kafka_bootstrap: str, unique_name: str
) -> None:
    refused = await client.post(
        "/v1/notifications", content=apple_body(GLOBEX_UID), headers=bearer(ACME_TOKEN)
    )
    assert refused.status_code == 403

    sent: dict[bytes, tuple[bytes, str]] = {}  # body -> (key, request id)
    for name in APPLE_EXAMPLES:
        body = example_bytes(name)
        response = await client.post("/v1/notifications", content=body, headers=bearer(ACME_TOKEN))
        assert response.status_code == 202, (name, response.text)
        sent[body] = (ACME_UID.encode(), response.headers["x-request-id"])
    body = example_bytes("app_tenant_rest_url_change")
    response = await client.post("/v1/app-notifications", content=body, headers=bearer(ams_jwt()))
    assert response.status_code == 202, response.text
    sent[body] = (ACME_TENANT_ID.encode(), response.headers["x-request-id"])

    records = await read_topic(kafka_bootstrap, unique_name, at_least=len(sent))
    assert len(records) == len(sent)  # nothing from the 403, nothing twice
    for record in records:
        key, request_id = sent[record.value]
        headers = dict(record.headers)
        assert record.key == key
        assert set(headers) == HEADER_NAMES
        assert headers[h.TENANT] == b"acme"
        expected_source = h.SOURCE_APP if key == ACME_TENANT_ID.encode() else h.SOURCE_APPLE
        assert headers[h.SOURCE] == expected_source.encode()
        assert headers[h.CONTENT_SHA256] == hashlib.sha256(record.value).hexdigest().encode()
        assert headers[h.REQUEST_ID] == request_id.encode()
        assert abs(int(headers[h.RECEIVED_AT]) - time.time() * 1000) < 120_000


async def test_the_senders_traceparent_is_kept_in_the_record_headers(
    client: httpx.AsyncClient, kafka_bootstrap: str, unique_name: str
) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    traced, untraced = apple_body(), apple_body()
    for body, sent in ((traced, traceparent), (untraced, traceparent.upper())):  # invalid
        headers = {**bearer(ACME_TOKEN), "traceparent": sent}
        response = await client.post("/v1/notifications", content=body, headers=headers)
        assert response.status_code == 202, response.text
    records = await read_topic(kafka_bootstrap, unique_name, at_least=2)
    headers_of = {record.value: dict(record.headers) for record in records}
    assert set(headers_of[traced]) == HEADER_NAMES | {h.TRACEPARENT}
    assert headers_of[traced][h.TRACEPARENT] == traceparent.encode()
    assert set(headers_of[untraced]) == HEADER_NAMES


async def test_concurrent_requests_each_get_their_own_ack(
    client: httpx.AsyncClient, kafka_bootstrap: str, unique_name: str
) -> None:
    bodies = [apple_body() for _ in range(300)]
    responses = await asyncio.gather(
        *[client.post("/v1/notifications", content=b, headers=bearer(ACME_TOKEN)) for b in bodies]
    )
    assert [r.status_code for r in responses] == [202] * len(bodies)
    records = await read_topic(kafka_bootstrap, unique_name, at_least=len(bodies))
    assert sorted(r.value for r in records) == sorted(bodies)


async def test_each_organization_lands_on_the_partition_queries_are_routed_to(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    """The stream workers answer a query for an organization from the partition
    streams.keys.partition_for names (Kafka's murmur2): the gateway must write there."""
    uids = [str(2049025000431439 + i) for i in range(40)]
    await create_topic(kafka_bootstrap, unique_name, partitions=7)
    config = tenants_config()
    config["tenants"][0]["uids"] = uids
    settings = GatewaySettings(
        kafka_bootstrap=kafka_bootstrap,
        raw_topic=unique_name,
        tenants_file=write_tenants(tmp_path / "tenants.yaml", config),
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            for uid in uids:
                response = await client.post(
                    "/v1/notifications", content=apple_body(uid), headers=bearer(ACME_TOKEN)
                )
                assert response.status_code == 202, response.text
    records = await read_topic(kafka_bootstrap, unique_name, at_least=len(uids))
    placed = {record.key.decode(): record.partition for record in records}
    assert placed == {uid: partition_for(uid, 7) for uid in uids}
    assert len(set(placed.values())) > 1


async def test_test_notification_is_answered_fast(client: httpx.AsyncClient) -> None:
    body = example_bytes("apple_test_notification")
    await client.post("/v1/notifications", content=body, headers=bearer(ACME_TOKEN))  # warm-up
    elapsed = []
    for _ in range(20):
        started = time.perf_counter()
        response = await client.post("/v1/notifications", content=body, headers=bearer(ACME_TOKEN))
        elapsed.append(time.perf_counter() - started)
        assert response.status_code == 202
    elapsed.sort()
    assert elapsed[10] < 0.1, elapsed  # median, with acks=all on a shared 2-core machine
    assert json.loads(body)["notificationType"] == "TEST_NOTIFICATION"


async def test_ready_with_a_broker(client: httpx.AsyncClient) -> None:
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_a_body_too_large_for_the_topic_is_413_and_harms_no_one(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    """Under max_body_bytes but over the topic's max.message.bytes: refused before Kafka
    (a broker refusal would break the idempotent sequence of the partition)."""
    await create_topic(kafka_bootstrap, unique_name, 1, {"max.message.bytes": "4096"})
    settings = GatewaySettings(
        kafka_bootstrap=kafka_bootstrap,
        raw_topic=unique_name,
        tenants_file=write_tenants(tmp_path / "tenants.yaml", tenants_config()),
        kafka_max_message_bytes=4096,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            big = apple_body(padding="x" * 5000)
            response = await client.post(
                "/v1/notifications", content=big, headers=bearer(ACME_TOKEN)
            )
            assert response.status_code == 413
            small = apple_body()
            response = await client.post(
                "/v1/notifications", content=small, headers=bearer(ACME_TOKEN)
            )
            assert response.status_code == 202
    records = await read_topic(kafka_bootstrap, unique_name, at_least=1)
    assert [r.value for r in records] == [small]
