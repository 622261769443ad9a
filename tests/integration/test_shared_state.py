"""gateway.sharedstate against a real redis-server: the ADMIT script's semantics (GCRA,
set-if-absent replay keys and their lifetimes), two processes' admissions sharing one
store, and what happens when the store does not answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from gateway.admission import ReplayTicket
from gateway.admitscript import ADMIT
from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.errors import (
    AuthenticationError,
    RateLimitedError,
    SetupError,
    SharedStateUnavailableError,
)
from gateway.metrics import GatewayMetrics
from gateway.sharedstate import RedisAdmission, redis_admission
from switchboard.localkafka import free_port
from switchboard.tenantsfile import write_tenants
from tests.redis_server import RedisServer
from tests.unit.gateway.support import MemoryPublisher, ams_jwt, app_body, bearer, tenants_config


def settings_for(url: str, prefix: str, **extra: Any) -> GatewaySettings:
    return GatewaySettings(shared_state_url=SecretStr(url), shared_state_key_prefix=prefix, **extra)


@pytest.fixture
def prefix(unique_name: str) -> str:
    return f"test:{unique_name}:"


@pytest.fixture
async def admissions(
    redis_server: RedisServer, prefix: str
) -> AsyncIterator[tuple[RedisAdmission, RedisAdmission]]:
    """Two admissions with clients of their own: two gateway processes' view of the store."""
    settings = settings_for(redis_server.url, prefix)
    pair = (
        redis_admission(settings, GatewayMetrics()),
        redis_admission(settings, GatewayMetrics()),
    )
    yield pair
    for admission in pair:
        await admission.close()


def ticket(token_id: str, lifetime_s: float = 60.0, iss: str = "ams") -> ReplayTicket:
    return ReplayTicket((iss, f"jti:{token_id}"), time.time() + lifetime_s)


async def verdicts(admission: RedisAdmission, tenant: str, rate: float, count: int) -> list[int]:
    """0 for each admitted request, its Retry-After for each refused one."""
    out = []
    for _ in range(count):
        try:
            await admission.admit(tenant, rate, None)
            out.append(0)
        except RateLimitedError as exc:
            out.append(int(exc.headers["Retry-After"]))
    return out


async def test_gcra_admits_the_burst_then_refuses_with_the_wait(redis_server: RedisServer) -> None:
    """The script itself, on the server's clock: 5/s with a 1 s bucket is 5 at once, then
    the 6th waits ~200 ms (one interval) for its token."""
    client = Redis.from_url(redis_server.url)
    script = client.register_script(ADMIT)
    key = f"test:gcra:{time.time_ns()}"
    try:
        results = [int(await script(keys=[key], args=[200_000, 1_000_000, 0])) for _ in range(6)]
        assert results[:5] == [0] * 5
        assert 150_000 < results[5] <= 200_000
        assert 0 < int(await client.pttl(key)) <= 1000  # forgotten once the bucket is full
        # No limit (interval 0): nothing read or written for the rate.
        assert int(await script(keys=[key + "-none"], args=[0, 0, 0])) == 0
        assert not await client.exists(key + "-none")
    finally:
        await client.aclose()


async def test_a_tenants_rate_holds_across_two_processes(
    admissions: tuple[RedisAdmission, RedisAdmission],
) -> None:
    one, two = admissions
    assert await verdicts(one, "acme", 5.0, 3) == [0, 0, 0]
    assert await verdicts(two, "acme", 5.0, 3) == [0, 0, 1]  # 5 in all, not 5 each
    assert await verdicts(one, "acme", 5.0, 1) == [1]
    assert await verdicts(two, "globex", 5.0, 1) == [0]  # buckets are per tenant


async def test_a_token_is_admitted_once_across_two_processes(
    admissions: tuple[RedisAdmission, RedisAdmission], redis_server: RedisServer, prefix: str
) -> None:
    one, two = admissions
    await one.admit("acme", 100.0, ticket("t1", lifetime_s=30))
    with pytest.raises(AuthenticationError) as caught:
        await two.admit("acme", 100.0, ticket("t1"))
    assert caught.value.reason == "replay"
    ttl_ms = int(redis_server.command("PTTL", f"{prefix}replay:ams:jti:t1"))
    assert 28_000 < ttl_ms <= 30_000  # the token's remaining lifetime


async def test_a_released_token_may_be_used_again(
    admissions: tuple[RedisAdmission, RedisAdmission],
) -> None:
    one, two = admissions
    await one.admit("acme", 100.0, ticket("t2"))
    await one.release(ticket("t2"))
    await two.admit("acme", 100.0, ticket("t2"))
    with pytest.raises(AuthenticationError):
        await one.admit("acme", 100.0, ticket("t2"))


async def test_a_replay_is_not_charged_and_a_rate_refusal_does_not_spend_the_token(
    admissions: tuple[RedisAdmission, RedisAdmission],
) -> None:
    one, two = admissions
    await one.admit("slow", 2.0, ticket("a"))  # bucket of 2: one left
    with pytest.raises(AuthenticationError):
        await two.admit("slow", 2.0, ticket("a"))  # refused, not charged
    await two.admit("slow", 2.0, ticket("b"))  # the bucket's second request
    with pytest.raises(RateLimitedError):
        await one.admit("slow", 2.0, ticket("c"))
    with pytest.raises(RateLimitedError):  # c was not marked used: 429 again, not 401
        await two.admit("slow", 2.0, ticket("c"))


async def test_issuer_prefixes_cannot_meet(
    admissions: tuple[RedisAdmission, RedisAdmission],
) -> None:
    """iss "a:jti" with jti "x" and iss "a" with jti "jti:x" are different tokens."""
    one, _ = admissions
    await one.admit("acme", 100.0, ReplayTicket(("a:jti", "jti:x"), time.time() + 60))
    await one.admit("acme", 100.0, ReplayTicket(("a", "jti:jti:x"), time.time() + 60))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_an_unreachable_store_refuses_jwts_and_limits_per_process(tmp_path: Path) -> None:
    """Nothing listens: a JWT gets 503 with Retry-After at once, a bearer request this
    process's own bucket; the store is not asked again for shared_state_retry_s, then it
    is, and once it answers the shared state is used again."""
    server = RedisServer(tmp_path / "redis", port=free_port())
    settings = settings_for(server.url, "test:down:", shared_state_retry_s=5.0)
    metrics, monotonic = GatewayMetrics(), Clock()
    client = Redis.from_url(server.url, socket_timeout=0.25, socket_connect_timeout=0.25)
    admission = RedisAdmission(client, settings, metrics, monotonic=monotonic)
    try:
        started = time.perf_counter()
        with pytest.raises(SharedStateUnavailableError) as caught:
            await admission.admit("acme", 100.0, ticket("down"))
        assert caught.value.status == 503
        assert caught.value.headers["Retry-After"] == str(settings.unavailable_retry_after_s)
        assert time.perf_counter() - started < 1.0
        assert await verdicts(admission, "slow", 1.0, 2) == [0, 1]  # per process, 1/s
        fallbacks = metrics.shared_state_fallbacks
        assert fallbacks.labels("replay")._value.get() == 1
        assert fallbacks.labels("rate_limit")._value.get() == 2
        server.start()  # back, but within retry_s the store is not asked
        with pytest.raises(SharedStateUnavailableError):
            await admission.admit("acme", 100.0, ticket("down"))
        monotonic.now = 5.0
        await admission.admit("acme", 100.0, ticket("down"))
        with pytest.raises(AuthenticationError):
            await admission.admit("acme", 100.0, ticket("down"))
    finally:
        await admission.close()
        server.kill()


def test_the_password_is_given_once(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    both = settings_for(
        "redis://127.0.0.1:1/0",
        "p:",
        shared_state_password=SecretStr("x"),
        shared_state_password_file=secret,
    )
    with pytest.raises(SetupError, match="not both"):
        redis_admission(both, GatewayMetrics())
    from_file = settings_for("redis://127.0.0.1:1/0", "p:", shared_state_password_file=secret)
    admission = redis_admission(from_file, GatewayMetrics())
    assert admission.describe().endswith("through the store at 127.0.0.1:1/0 (keys p:*)")
    with pytest.raises(SetupError, match="redis://"):
        redis_admission(settings_for("http://127.0.0.1:1", "p:"), GatewayMetrics())


def connected_clients(server: RedisServer) -> int:
    """Clients connected to `server`, the redis-cli asking included."""
    info = server.command("INFO", "clients").decode()
    return int(info.split("connected_clients:", 1)[1].split()[0])


async def test_close_leaves_no_connection_to_the_store(tmp_path: Path) -> None:
    """close() closes the admission's own connection pool: a stopping gateway leaves no
    socket for the garbage collector to find (an unclosed-transport ResourceWarning)."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        admission = redis_admission(settings_for(server.url, "close:"), GatewayMetrics())
        assert await admission.ping()
        assert connected_clients(server) == 2
        await admission.close()
        deadline = time.monotonic() + 10
        while connected_clients(server) > 1:
            assert time.monotonic() < deadline, "the admission's connection is still open"
            await asyncio.sleep(0.05)
    finally:
        server.kill()


async def test_a_password_from_a_file_is_used(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        server.command("CONFIG", "SET", "requirepass", "s3cret")
        secret = tmp_path / "password"
        secret.write_text("s3cret\n")
        good = settings_for(server.url, "p:", shared_state_password_file=secret)
        admission = redis_admission(good, GatewayMetrics())
        assert await admission.ping()
        await admission.close()
        wrong = redis_admission(settings_for(server.url, "p:"), GatewayMetrics())
        assert not await wrong.ping()
        await wrong.close()
    finally:
        server.kill()


async def test_two_apps_release_a_refused_jwt_in_the_store(
    redis_server: RedisServer, prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A JWT whose request is refused after admission (422) is released in the store: the
    sender may send it again, at any process, and then it is used."""
    tenants = write_tenants(tmp_path / "tenants.yaml", tenants_config())
    settings = settings_for(redis_server.url, prefix, tenants_file=tenants, raw_topic="raw")
    apps = [create_app(settings, publisher=MemoryPublisher()) for _ in range(2)]
    caplog.set_level(logging.INFO, "gateway.app")
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://gateway")
            clients.append(await stack.enter_async_context(client))
        one, two = clients
        token, url = ams_jwt(), "/v1/app-notifications"
        assert (await one.post(url, content=b"{}", headers=bearer(token))).status_code == 422
        assert (await two.post(url, content=app_body(), headers=bearer(token))).status_code == 202
        assert (await one.post(url, content=app_body(), headers=bearer(token))).status_code == 401
    assert caplog.text.count("shared by every gateway process") == 2


async def test_requests_of_one_loop_turn_share_a_round_trip_and_keep_their_verdicts(
    admissions: tuple[RedisAdmission, RedisAdmission], redis_server: RedisServer
) -> None:
    """Ten at once (one pipeline): exactly the bucket's five pass; the same token twice in
    one pipeline is admitted once. After SCRIPT FLUSH (a restarted store) the script is
    loaded again and admissions go on."""
    one, _ = admissions

    async def outcome(tenant: str, rate: float, t: ReplayTicket | None) -> str:
        try:
            await one.admit(tenant, rate, t)
        except RateLimitedError:
            return "429"
        except AuthenticationError:
            return "401"
        return "ok"

    ten = await asyncio.gather(*(outcome("burst", 5.0, None) for _ in range(10)))
    assert sorted(ten) == ["429"] * 5 + ["ok"] * 5
    same = ticket("twice")
    twice = await asyncio.gather(outcome("acme", 100.0, same), outcome("acme", 100.0, same))
    assert list(twice) == ["ok", "401"]
    redis_server.command("SCRIPT", "FLUSH")
    assert await outcome("acme", 100.0, ticket("after-flush")) == "ok"
