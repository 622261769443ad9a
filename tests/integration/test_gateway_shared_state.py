"""Two real gateway processes sharing one real redis-server, publishing to the real broker:
a JWT is accepted once by the pair, a tenant's rate is the pair's, and when the store is
killed JWTs get 503 + Retry-After while bearer requests get each process's own bucket."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.tenantsfile import write_tenants
from tests.integration.gateway_process import GatewayServer
from tests.integration.streams_fixtures import create_topic
from tests.redis_server import RedisServer
from tests.unit.gateway.support import (
    ACME_TOKEN,
    ams_jwt,
    app_body,
    apple_body,
    bearer,
    tenants_config,
)

pytestmark = pytest.mark.kafka

RATE = 5  # acme's requests/s in this module's tenants file (bucket: 1 s of it)


def start_pair(env: dict[str, str], home: Path) -> list[GatewayServer]:
    pair = [GatewayServer(env, home / f"gateway-{i}.log") for i in range(2)]
    for gateway in pair:
        gateway.start()
    for gateway in pair:
        gateway.wait_status("/readyz", 200)
    return pair


@pytest.fixture
def gateway_env(kafka_bootstrap: str, unique_name: str, tmp_path: Path) -> dict[str, str]:
    topic = f"raw-{unique_name}"
    asyncio.run(create_topic(kafka_bootstrap, topic, 2))
    config = tenants_config()
    config["tenants"][0]["rate_limit_per_s"] = RATE
    return {
        "SWITCHBOARD_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SWITCHBOARD_TENANTS_FILE": str(write_tenants(tmp_path / "tenants.yaml", config)),
        "SWITCHBOARD_RAW_TOPIC": topic,
        "SWITCHBOARD_HEALTH_INTERVAL_S": "0.25",
        "SWITCHBOARD_SHARED_STATE_KEY_PREFIX": f"{unique_name}:",
        "SWITCHBOARD_SHARED_STATE_RETRY_S": "0.2",
    }


@pytest.fixture
def shared_pair(
    gateway_env: dict[str, str], redis_server: RedisServer, tmp_path: Path
) -> Iterator[list[GatewayServer]]:
    pair = start_pair({**gateway_env, "SWITCHBOARD_SHARED_STATE_URL": redis_server.url}, tmp_path)
    try:
        yield pair
    finally:
        for gateway in pair:
            gateway.stop()


def post_app(gateway: GatewayServer, token: str) -> httpx.Response:
    url = f"{gateway.url}/v1/app-notifications"
    return httpx.post(url, content=app_body(), headers=bearer(token), timeout=10)


def statuses_over(pair: list[GatewayServer], seconds: float) -> Counter[int]:
    """acme's Apple notifications, as fast as answered, alternating between the pair."""

    async def run() -> Counter[int]:
        counts: Counter[int] = Counter()
        async with httpx.AsyncClient(timeout=10) as client:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                for gateway in pair:
                    url = f"{gateway.url}/v1/notifications"
                    answer = await client.post(
                        url, content=apple_body(), headers=bearer(ACME_TOKEN)
                    )
                    counts[answer.status_code] += 1
        return counts

    return asyncio.run(run())


def test_the_same_jwt_at_two_gateways_is_accepted_once(shared_pair: list[GatewayServer]) -> None:
    first, second = shared_pair
    token = ams_jwt()
    assert post_app(first, token).status_code == 202
    refused = post_app(second, token)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert "already used" in refused.json()["detail"]
    assert post_app(first, token).status_code == 401


def test_a_tenant_at_5_per_s_gets_5_per_s_across_two_gateways(
    shared_pair: list[GatewayServer],
) -> None:
    """Over 3 s a bucket of 5 refilled at 5/s admits at most 5 + 15 = 20; two per-process
    buckets would admit up to 40."""
    seconds = 3.0
    counts = statuses_over(shared_pair, seconds)
    assert set(counts) <= {202, 429}, counts
    assert counts[429] > 0, counts
    assert RATE * seconds * 0.7 <= counts[202] <= RATE * (seconds + 1) + 2, counts


def test_without_a_store_each_gateway_has_its_own_limit_and_memory(
    gateway_env: dict[str, str], tmp_path: Path
) -> None:
    """Today's behaviour, and what the shared store fixes: said at start, in one line."""
    pair = start_pair(gateway_env, tmp_path)
    try:
        token = ams_jwt()
        assert [post_app(g, token).status_code for g in pair] == [202, 202]
        counts = statuses_over(pair, 3.0)
        assert counts[202] > RATE * 4 + 2, counts
        for gateway in pair:
            said = [line for line in gateway.lines() if "are per gateway process" in line["msg"]]
            assert len(said) == 1
    finally:
        for gateway in pair:
            gateway.stop()


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/problem+json"
    document: dict[str, Any] = response.json()
    return document


def test_a_killed_store_refuses_jwts_with_503_and_limits_per_process(
    gateway_env: dict[str, str], tmp_path: Path
) -> None:
    store = RedisServer(tmp_path / "redis")
    store.start()
    pair = start_pair({**gateway_env, "SWITCHBOARD_SHARED_STATE_URL": store.url}, tmp_path)
    try:
        first, second = pair
        assert post_app(first, ams_jwt()).status_code == 202
        store.kill()
        refused = post_app(second, ams_jwt())
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) >= 1
        assert "replay store is unreachable" in problem(refused)["detail"]
        # The rate limit falls back to each process's bucket: 5 at once at each.
        for gateway in pair:
            counts = statuses_over([gateway], 0.5)
            assert 5 <= counts[202] <= 5 + 3, counts
            assert counts[429] > 0, counts
        metrics = httpx.get(f"{first.url}/metrics").text
        assert 'switchboard_gateway_shared_state_fallbacks_total{concern="rate_limit"}' in metrics
        store.start()  # same port: JWTs are accepted again, without a restart
        deadline = time.monotonic() + 30
        while post_app(second, ams_jwt()).status_code != 202:
            assert time.monotonic() < deadline, second.log()
            time.sleep(0.05)  # polling the gateway's next try (shared_state_retry_s)
        token = ams_jwt()
        assert post_app(first, token).status_code == 202
        assert post_app(second, token).status_code == 401
    finally:
        for gateway in pair:
            gateway.stop()
        store.kill()
