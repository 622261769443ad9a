"""Admission of an authenticated request: the tenant's rate limit, and a JWT's single use.

One protocol for both because the shared store answers both in one atomic round trip
(gateway.sharedstate): a replayed token is refused without being charged to the tenant,
and a token refused for the rate is not spent, so the sender may retry with it.

`InProcessAdmission` is the default: gateway.replay and gateway.ratelimit in this process,
so with N gateway processes a token can be accepted once by each and a tenant gets N
times its rate. `RedisAdmission` (gateway.sharedstate) holds both for every process.
"""

import math
from dataclasses import dataclass
from typing import Protocol

from gateway.errors import AuthenticationError, RateLimitedError
from gateway.ratelimit import RateLimiter
from gateway.replay import ReplayCache, ReplayKey


@dataclass(frozen=True)
class ReplayTicket:
    """What makes a JWT single-use, and until when it must be remembered (epoch s)."""

    key: ReplayKey
    until: float


class Admission(Protocol):
    async def admit(self, tenant_id: str, rate: float | None, ticket: ReplayTicket | None) -> None:
        """Charge the tenant one request and, for a JWT, mark its ticket used; or raise
        AuthenticationError (replay), RateLimitedError or SharedStateUnavailableError."""

    async def release(self, ticket: ReplayTicket) -> None:
        """Un-use a ticket: its request was refused, the sender may send the token again."""

    async def close(self) -> None: ...

    def describe(self) -> str:
        """One line for the start-up log: where limits and replay refusal are held."""


def replayed() -> AuthenticationError:
    return AuthenticationError("the token was already used (same jti or same token)", "replay")


def rate_limited(rate: float, wait_s: int) -> RateLimitedError:
    return RateLimitedError(f"tenant rate limit of {rate:g} requests/s exceeded", wait_s)


def limited(rate: float | None) -> bool:
    """False for no rate at all (None, or an infinite one from the tenants file)."""
    return rate is not None and not math.isinf(rate)


class InProcessAdmission:
    """This process's memory of JWTs and its token buckets."""

    def __init__(self, replays: ReplayCache, limiter: RateLimiter) -> None:
        self.replays = replays
        self.limiter = limiter

    async def admit(self, tenant_id: str, rate: float | None, ticket: ReplayTicket | None) -> None:
        self.check(tenant_id, rate, ticket)

    def check(self, tenant_id: str, rate: float | None, ticket: ReplayTicket | None) -> None:
        """admit(), synchronously (also the shared store's fallback for the rate)."""
        if ticket is not None and not self.replays.reserve(ticket.key, ticket.until):
            raise replayed()
        wait_s = self.limiter.acquire(tenant_id, rate if limited(rate) else None)
        if wait_s is not None:
            if ticket is not None:
                self.replays.release(ticket.key)
            assert rate is not None
            raise rate_limited(rate, wait_s)

    async def release(self, ticket: ReplayTicket) -> None:
        self.replays.release(ticket.key)

    async def close(self) -> None:
        return None

    def describe(self) -> str:
        return (
            "rate limits and JWT replay refusal are per gateway process "
            "(SWITCHBOARD_SHARED_STATE_URL is not set): with N processes a tenant gets "
            "N times its rate and a token can be used once at each"
        )
