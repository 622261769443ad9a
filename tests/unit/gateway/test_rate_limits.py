"""The per-tenant rate limit: charged once the caller is authenticated, whatever follows."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.config import GatewaySettings
from tests.unit.gateway.support import (
    ACME_TOKEN,
    SLOW_TOKEN,
    MemoryPublisher,
    ams_jwt,
    app_body,
    apple_body,
    assert_problem,
    bearer,
)

URL = "/v1/notifications"
APP_URL = "/v1/app-notifications"


async def test_refused_bodies_use_up_the_tenants_rate(client: httpx.AsyncClient) -> None:
    """The slow tenant (1/s, burst 1): its one token goes to a 400, the rest are 429,
    before the content type, size or JSON are looked at."""
    first = await client.post(URL, content=b"{", headers=bearer(SLOW_TOKEN))
    assert_problem(first, 400)
    not_json = await client.post(URL, content=b"{", headers=bearer(SLOW_TOKEN))
    assert_problem(not_json, 429)
    assert int(not_json.headers["retry-after"]) >= 1
    wrong_type = {**bearer(SLOW_TOKEN), "Content-Type": "text/plain"}
    assert_problem(await client.post(URL, content=b"x", headers=wrong_type), 429)
    too_big = await client.post(URL, content=b" " * (2 << 20), headers=bearer(SLOW_TOKEN))
    assert_problem(too_big, 429)


async def test_unauthenticated_requests_are_not_charged_to_a_tenant(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        assert_problem(await client.post(URL, content=b"{", headers=bearer("nobody")), 401)
    first = await client.post(URL, content=b"{", headers=bearer(SLOW_TOKEN))
    assert first.status_code == 400  # its one token is still there


def test_the_default_rate_is_finite() -> None:
    assert GatewaySettings().default_rate_limit_per_s == 100.0
    with pytest.raises(ValueError):
        GatewaySettings(default_rate_limit_per_s=float("inf"))


async def test_a_tenant_without_its_own_rate_gets_the_default(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    """acme has no rate_limit_per_s: 100/s with a 1 s burst, so 100 at once pass, and
    well before 300 (in far less than the 2 s that would refill the bucket) comes a 429."""
    statuses = [
        (await client.post(URL, content=apple_body(), headers=bearer(ACME_TOKEN))).status_code
        for _ in range(300)
    ]
    assert statuses[:100] == [202] * 100
    assert 429 in statuses
    assert len(publisher.records) == statuses.count(202)


@pytest.fixture
async def limited_client(tenants_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        tenants_file=tenants_file, raw_topic="raw-test", default_rate_limit_per_s=1.0
    )
    app = create_app(settings, publisher=MemoryPublisher())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            yield http


async def test_a_jwt_refused_for_the_rate_can_be_sent_again(
    limited_client: httpx.AsyncClient,
) -> None:
    """429 is not an acceptance: the same token (same jti) is good for the retry."""
    assert_problem(await limited_client.post(APP_URL, content=b"{", headers=bearer(ams_jwt())), 400)
    token = ams_jwt()
    assert_problem(
        await limited_client.post(APP_URL, content=app_body(), headers=bearer(token)), 429
    )
    retried = await limited_client.post(APP_URL, content=app_body(), headers=bearer(token))
    assert retried.status_code in (202, 429)  # 202 once the bucket refilled (1 s)
    assert "already used" not in retried.text
