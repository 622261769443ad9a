"""Memory of the JWTs already used, per issuer, while they could still be valid.

A key is (iss, id): the id is the token's jti, or for a token without one a digest of
what its signature covers (see gateway.auth). A token is remembered until its exp plus
the leeway: after that it is refused as expired anyway, so forgetting it opens no replay.

Each issuer has its own bounded memory, so one tenant's traffic (or a flood of valid
tokens from one compromised issuer) can only ever push out that issuer's own entries.
When an issuer's memory is full, its entry closest to expiry is forgotten first (and a
warning logged once per issuer), which is the smallest replay window we can open.
Memory is therefore bounded by max_entries per issuer in the tenants file.
One process, one event loop: reserve/release never interleave.
"""

import heapq
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

ReplayKey = tuple[str, str]  # (iss, jti or digest)


class _IssuerMemory:
    """The ids of one issuer, bounded; the soonest to expire is evicted first."""

    def __init__(self, iss: str, max_entries: int) -> None:
        self._iss = iss
        self._max = max_entries
        self._until: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._warned = False

    def __len__(self) -> int:
        return len(self._until)

    def reserve(self, token_id: str, until: float, now: float) -> bool:
        self._purge(now)
        if token_id in self._until:
            return False
        if len(self._until) >= self._max:
            self._evict_one()
        self._until[token_id] = until
        heapq.heappush(self._heap, (until, token_id))
        return True

    def release(self, token_id: str) -> None:
        self._until.pop(token_id, None)

    def _purge(self, now: float) -> None:
        heap = self._heap
        # `<`: at exactly exp + leeway the token is still accepted (see auth), so remembered.
        while heap and heap[0][0] < now:
            until, token_id = heapq.heappop(heap)
            if self._until.get(token_id) == until:
                del self._until[token_id]
        # Released ids leave stale heap entries; rebuild when they dominate.
        if len(heap) > 2 * self._max:
            self._heap = [(u, k) for k, u in self._until.items()]
            heapq.heapify(self._heap)

    def _evict_one(self) -> None:
        if not self._warned:
            log.warning(
                "JWT replay memory of issuer %r full (%d ids): forgetting the oldest early",
                self._iss,
                self._max,
            )
            self._warned = True
        while self._heap:
            until, token_id = heapq.heappop(self._heap)
            if self._until.get(token_id) == until:
                del self._until[token_id]
                return


class ReplayCache:
    def __init__(self, max_entries_per_issuer: int, clock: Callable[[], float] = time.time) -> None:
        self._max = max_entries_per_issuer
        self._clock = clock
        self._issuers: dict[str, _IssuerMemory] = {}

    def __len__(self) -> int:
        return sum(len(memory) for memory in self._issuers.values())

    def reserve(self, key: ReplayKey, until: float) -> bool:
        """Remember `key` until `until` (epoch s). False if it is already remembered."""
        iss, token_id = key
        memory = self._issuers.get(iss)
        if memory is None:
            memory = self._issuers[iss] = _IssuerMemory(iss, self._max)
        return memory.reserve(token_id, until, self._clock())

    def release(self, key: ReplayKey) -> None:
        """Forget `key`: its request was not accepted, so the sender may use it again."""
        iss, token_id = key
        memory = self._issuers.get(iss)
        if memory is not None:
            memory.release(token_id)
