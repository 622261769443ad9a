"""Health, readiness, metrics, OpenAPI, and the tenants file changing under a running app."""

import asyncio
import logging
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.errors import SetupError
from switchboard.tenantsfile import write_tenants
from tests.unit.gateway.support import (
    ACME_NEXT_TOKEN,
    ACME_TOKEN,
    AMS_SECRET,
    MemoryPublisher,
    ams_jwt,
    apple_body,
    assert_problem,
    bearer,
    tenants_config,
)


async def test_healthz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_readyz_follows_the_publisher(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    assert (await client.get("/readyz")).status_code == 200
    publisher.is_ready = False
    response = await client.get("/readyz")
    assert_problem(response, 503)
    assert "retry-after" in response.headers


async def test_lifespan_starts_and_stops_the_publisher(
    settings: GatewaySettings, publisher: MemoryPublisher
) -> None:
    app = create_app(settings, publisher=publisher)
    async with app.router.lifespan_context(app):
        assert publisher.started
    assert not publisher.started


def test_a_missing_or_broken_tenants_file_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="SWITCHBOARD_TENANTS_FILE"):
        create_app(GatewaySettings(tenants_file=None), publisher=MemoryPublisher())
    broken = tmp_path / "broken.yaml"
    broken.write_text("tenants: [")
    with pytest.raises(SetupError, match="tenants file refused"):
        create_app(GatewaySettings(tenants_file=broken), publisher=MemoryPublisher())


async def test_metrics_count_requests_by_route_status_tenant_and_auth_reasons(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/v1/notifications", content=apple_body(), headers=bearer(ACME_TOKEN))
    await client.post("/v1/notifications", content=apple_body(), headers=bearer("wrong"))
    await client.post("/v1/app-notifications", content=b"{}", headers=bearer(ACME_TOKEN))
    await client.get("/no/such/path")
    text = (await client.get("/metrics")).text

    assert 'requests_total{route="/v1/notifications",status="202",tenant="acme"} 1.0' in text
    assert 'requests_total{route="/v1/notifications",status="401",tenant="-"} 1.0' in text
    assert 'requests_total{route="other",status="404",tenant="-"} 1.0' in text
    assert 'auth_failures_total{reason="unknown_token",route="/v1/notifications"} 1.0' in text
    assert 'auth_failures_total{reason="malformed",route="/v1/app-notifications"} 1.0' in text
    assert 'publish_seconds_count{outcome="acked"} 1.0' in text
    assert "switchboard_gateway_requests_in_flight 1.0" in text  # this very request
    assert "switchboard_gateway_kafka_ready 1.0" in text
    assert ACME_TOKEN not in text and "wrong" not in text


async def test_no_credential_is_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    jwt_token = ams_jwt()
    await client.post("/v1/notifications", content=apple_body(), headers=bearer(ACME_TOKEN))
    await client.post("/v1/app-notifications", content=b"{}", headers=bearer(jwt_token))
    await client.post("/v1/app-notifications", content=b"{}", headers=bearer(jwt_token[:-3]))
    for secret in (ACME_TOKEN, jwt_token, jwt_token[:-3], AMS_SECRET):
        assert secret not in caplog.text


async def test_openapi_describes_the_bodies_with_the_schemas_models(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    post = document["paths"]["/v1/notifications"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/AppleNotification"}
    components = document["components"]["schemas"]
    assert "AssetCountEnvelope" in components and "TenantRestUrlChangeNotification" in components
    assert "application/problem+json" in post["responses"]["401"]["content"]
    assert post["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "AcceptedNotification"
    )
    assert (await client.get("/docs")).status_code == 200


async def wait_for_status(client: httpx.AsyncClient, token: str, status: int) -> None:
    async with asyncio.timeout(5):
        while True:
            response = await client.post(
                "/v1/notifications", content=apple_body(), headers=bearer(token)
            )
            if response.status_code == status:
                return
            await asyncio.sleep(0.02)


async def test_token_rotation_without_restart(
    app: FastAPI, client: httpx.AsyncClient, tenants_file: Path
) -> None:
    """Old and new token both work while both hashes are listed; dropping the old one
    locks it out, picked up by the running app's reloader (no restart, no signal)."""
    write_tenants(tenants_file, tenants_config((ACME_TOKEN, ACME_NEXT_TOKEN)))
    await wait_for_status(client, ACME_NEXT_TOKEN, 202)
    assert (
        await client.post("/v1/notifications", content=apple_body(), headers=bearer(ACME_TOKEN))
    ).status_code == 202

    write_tenants(tenants_file, tenants_config((ACME_NEXT_TOKEN,)))
    await wait_for_status(client, ACME_TOKEN, 401)
    response = await client.post(
        "/v1/notifications", content=apple_body(), headers=bearer(ACME_NEXT_TOKEN)
    )
    assert response.status_code == 202


async def test_a_broken_new_file_is_refused_and_the_old_one_stays(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenants_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = tenants_config()
    config["tenants"][0]["token_sha256"] = ["not-a-hash"]
    write_tenants(tenants_file, config)
    async with asyncio.timeout(5):
        while True:
            if "refused" in caplog.text:
                break
            await asyncio.sleep(0.02)
    assert "tenants file" in caplog.text
    response = await client.post(
        "/v1/notifications", content=apple_body(), headers=bearer(ACME_TOKEN)
    )
    assert response.status_code == 202


async def test_a_bug_on_a_notification_endpoint_is_a_logged_500_problem(
    client: httpx.AsyncClient, publisher: MemoryPublisher, caplog: pytest.LogCaptureFixture
) -> None:
    publisher.failure = RuntimeError("a bug, not a Kafka error")
    with caplog.at_level(logging.ERROR):
        response = await client.post(
            "/v1/notifications", content=apple_body(), headers=bearer(ACME_TOKEN)
        )
    problem = assert_problem(response, 500)
    assert problem["detail"] == "internal error"  # no internals in the answer
    assert problem["requestId"] == response.headers["x-request-id"]
    assert "a bug, not a Kafka error" in caplog.text
    text = (await client.get("/metrics")).text
    assert 'requests_total{route="/v1/notifications",status="500",tenant="acme"} 1.0' in text


async def test_a_client_gone_before_its_body_arrived_publishes_nothing(
    app: FastAPI, publisher: MemoryPublisher
) -> None:
    scope = {
        "type": "http", "method": "POST", "path": "/v1/notifications", "query_string": b"",
        "headers": [(b"authorization", bearer(ACME_TOKEN)["Authorization"].encode()),
                    (b"content-type", b"application/json")],
    }  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent == [] and publisher.records == []
    text = (await httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ).get("/metrics")).text  # fmt: skip
    assert 'requests_total{route="/v1/notifications",status="499",tenant="acme"} 1.0' in text
