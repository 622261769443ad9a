"""Replay refusal and rate limits shared by every gateway process, in one Redis or Valkey.

Each admission is one EVALSHA of ADMIT (gateway.admitscript), atomic on the server, so two processes
can never both accept one token or both take a tenant's last request:
- the tenant's limit is a GCRA (the token bucket of gateway.ratelimit, stored as one
  number: the instant the bucket is full again), keyed `<prefix>rate:<tenant>`, timed by
  the server's clock, so the gateways' clocks need not agree;
- a JWT's key `<prefix>replay:<iss>:<jti or digest>` is set if absent, expiring with the
  token (exp + leeway, as a remaining lifetime: no clock is compared across machines);
- a replayed token is refused without charging the tenant, a token refused for the rate
  is not marked used. `release()` (a request refused later) deletes the key.
A single server (a primary, optionally with replicas): the script touches two keys, which
Redis Cluster would only allow within one hash slot.

When the store does not answer within shared_state_timeout_s (or refuses), it is not
asked again for shared_state_retry_s, and meanwhile:
- a JWT is refused with 503 and Retry-After (fail closed): accepting it could accept a
  token another process accepts too, and a 503 is what the sender retries;
- a bearer request gets this process's own token bucket (the per-process behaviour
  without a store): failing closed would stop all Apple traffic for an outage of a
  component that holds no notification, failing open would let one tenant starve the
  others; per process, a tenant gets at most (processes x rate) until the store is back.
Both are logged once per outage and counted in switchboard_gateway_shared_state_fallbacks.
A call that timed out may still have run: such a JWT, answered 503, can stay marked used,
and the sender's retry with the very same token is then refused as a replay (401).
"""

import asyncio
import functools
import logging
import math
import time
from collections.abc import Callable
from urllib.parse import quote

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gateway.admission import ReplayTicket, limited, rate_limited, replayed
from gateway.admitscript import REPLAYED, AdmitPipeline
from gateway.config import GatewaySettings
from gateway.errors import SetupError, SharedStateUnavailableError
from gateway.metrics import GatewayMetrics
from gateway.ratelimit import RateLimiter

log = logging.getLogger(__name__)

_STORE_FAILURES = (RedisError, OSError, TimeoutError)


class RedisAdmission:
    def __init__(
        self,
        client: Redis,
        settings: GatewaySettings,
        metrics: GatewayMetrics,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        # Releases' connections (admissions are bounded by their pipelines); waiting for
        # one counts in the timeout. redis-py's BlockingConnectionPool starved its waiters
        # when measured: every call timed out at 64 concurrent.
        self._connections = asyncio.Semaphore(settings.shared_state_max_connections)
        self._pipeline = AdmitPipeline(client, settings.shared_state_max_connections)
        self._prefix = settings.shared_state_key_prefix
        self._timeout = settings.shared_state_timeout_s
        self._retry_s = settings.shared_state_retry_s
        self._retry_after = settings.unavailable_retry_after_s
        self._burst_s = settings.rate_limit_burst_s
        self._fallback = RateLimiter(settings.rate_limit_burst_s)
        self._fallbacks = metrics.shared_state_fallbacks
        self._clock = clock
        self._monotonic = monotonic
        self._down_until: float | None = None  # set while the store is considered down

    async def admit(self, tenant_id: str, rate: float | None, ticket: ReplayTicket | None) -> None:
        keys = [self._rate_key(tenant_id)]
        interval_us = burst_us = 0.0
        ttl_ms = 0
        if limited(rate):
            assert rate is not None
            interval_us = 1e6 / rate
            burst_us = max(1.0, rate * self._burst_s) * interval_us
        if ticket is not None:
            keys.append(self._replay_key(*ticket.key))
            ttl_ms = max(1, math.ceil((ticket.until - self._clock()) * 1000))
        verdict = await self._call(keys, [interval_us, burst_us, ttl_ms])
        if verdict is None:
            self._decide_without_store(tenant_id, rate, ticket)
        elif verdict == REPLAYED:
            raise replayed()
        elif verdict > 0:
            assert rate is not None
            raise rate_limited(rate, max(1, math.ceil(verdict / 1e6)))

    async def release(self, ticket: ReplayTicket) -> None:
        if not self._up():
            self._fallbacks.labels("release").inc()
            return
        try:
            async with asyncio.timeout(self._timeout), self._connections:
                await self._client.delete(self._replay_key(*ticket.key))
        except _STORE_FAILURES as exc:
            # The token stays marked used until it expires: the sender's retry with the
            # same token is refused as a replay (its retries with a new token are not).
            self._down(exc)
            self._fallbacks.labels("release").inc()

    async def close(self) -> None:
        await self._pipeline.close()
        # The pool was made for this client alone (redis_admission); Redis() given a pool
        # leaves it open unless told to close it.
        await self._client.aclose(close_connection_pool=True)

    def describe(self) -> str:
        kwargs = self._client.connection_pool.connection_kwargs
        where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
        return (
            f"rate limits and JWT replay refusal are shared by every gateway process "
            f"through the store at {where} (keys {self._prefix}*)"
        )

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                return bool(await self._client.ping())
        except _STORE_FAILURES:
            return False

    async def _call(self, keys: list[str], args: list[float]) -> int | None:
        """The script's verdict, or None when the store is down or does not answer."""
        if not self._up():
            return None
        try:
            async with asyncio.timeout(self._timeout):
                verdict = await self._pipeline.admit(keys, args)
        except _STORE_FAILURES as exc:
            self._down(exc)
            return None
        if self._down_until is not None:
            self._down_until = None
            log.warning("the shared state store answers again: limits and replay are shared")
        return verdict

    def _decide_without_store(
        self, tenant_id: str, rate: float | None, ticket: ReplayTicket | None
    ) -> None:
        if ticket is not None:
            self._fallbacks.labels("replay").inc()
            raise SharedStateUnavailableError(
                "the JWT replay store is unreachable; nothing was stored", self._retry_after
            )
        self._fallbacks.labels("rate_limit").inc()
        wait_s = self._fallback.acquire(tenant_id, rate if limited(rate) else None)
        if wait_s is not None:
            assert rate is not None
            raise rate_limited(rate, wait_s)

    def _up(self) -> bool:
        return self._down_until is None or self._monotonic() >= self._down_until

    def _down(self, exc: BaseException) -> None:
        if self._down_until is None:
            log.warning(
                "the shared state store failed (%s): JWTs are refused with 503 and rate "
                "limits are per process until it answers (next try in %g s)",
                type(exc).__name__,
                self._retry_s,
            )
        self._down_until = self._monotonic() + self._retry_s

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (one instance per process)
    def _rate_key(self, tenant_id: str) -> str:
        return f"{self._prefix}rate:{quote(tenant_id, safe='')}"

    def _replay_key(self, iss: str, token_id: str) -> str:
        # iss quoted: its ':' cannot make two issuers' keys meet (ids start jti:/sha256:).
        return f"{self._prefix}replay:{self._issuer_part(iss)}:{token_id}"

    @functools.lru_cache(maxsize=4096)  # noqa: B019
    def _issuer_part(self, iss: str) -> str:
        return quote(iss, safe="")


def redis_admission(settings: GatewaySettings, metrics: GatewayMetrics) -> RedisAdmission:
    """The store named by shared_state_url; no connection is made until a request."""
    assert settings.shared_state_url is not None
    url = settings.shared_state_url.get_secret_value()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise SetupError(
            "SWITCHBOARD_SHARED_STATE_URL must be a redis://, rediss:// or unix:// URL"
        )
    options: dict[str, object] = {}
    password = _password(settings)
    if password is not None:
        options["password"] = password
    pool = ConnectionPool.from_url(
        url,
        socket_timeout=settings.shared_state_timeout_s,
        socket_connect_timeout=settings.shared_state_timeout_s,
        # No retries: a request waits at most one timeout, then the fallback decides.
        retry=Retry(NoBackoff(), 0),
        **options,
    )
    return RedisAdmission(Redis(connection_pool=pool), settings, metrics)


def _password(settings: GatewaySettings) -> str | None:
    given, path = settings.shared_state_password, settings.shared_state_password_file
    if given is not None and path is not None:
        raise SetupError(
            "set SWITCHBOARD_SHARED_STATE_PASSWORD or SWITCHBOARD_SHARED_STATE_PASSWORD_FILE, "
            "not both"
        )
    if path is None:
        return given.get_secret_value() if given is not None else None
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise SetupError(f"SWITCHBOARD_SHARED_STATE_PASSWORD_FILE unreadable: {exc}") from exc
