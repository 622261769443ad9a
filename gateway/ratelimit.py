"""Per-tenant token buckets: `rate` notifications a second, bursts up to `rate * burst_s`.

Buckets are keyed by tenant id, so a tenant's limit applies across all its tokens and
issuers. A limit changed in the tenants file takes effect on the next request.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(self, burst_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._burst_s = burst_s
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def capacity(self, rate: float) -> float:
        return max(1.0, rate * self._burst_s)

    def acquire(self, tenant_id: str, rate: float | None) -> int | None:
        """Take one token. None if allowed; else the whole seconds to wait (Retry-After)."""
        if rate is None:
            return None
        now = self._clock()
        capacity = self.capacity(rate)
        bucket = self._buckets.get(tenant_id)
        if bucket is None:
            bucket = self._buckets[tenant_id] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / rate))
