"""Memory of the JWT ids (iss, jti) already used, while their tokens could still be valid.

A token is remembered until its exp plus the leeway: after that it is refused as expired
anyway, so forgetting it opens no replay. The memory is bounded; when full, the entry
closest to expiry is forgotten first (and a warning logged once), which is the smallest
replay window we can open. One process, one event loop: reserve/release never interleave.
"""

import heapq
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

ReplayKey = tuple[str, str]


class ReplayCache:
    def __init__(self, max_entries: int, clock: Callable[[], float] = time.time) -> None:
        self._max = max_entries
        self._clock = clock
        self._until: dict[ReplayKey, float] = {}
        self._heap: list[tuple[float, ReplayKey]] = []
        self._warned = False

    def __len__(self) -> int:
        return len(self._until)

    def reserve(self, key: ReplayKey, until: float) -> bool:
        """Remember `key` until `until` (epoch s). False if it is already remembered."""
        self._purge(self._clock())
        if key in self._until:
            return False
        if len(self._until) >= self._max:
            self._evict_one()
        self._until[key] = until
        heapq.heappush(self._heap, (until, key))
        return True

    def release(self, key: ReplayKey) -> None:
        """Forget `key`: its request was not accepted, so the sender may use it again."""
        self._until.pop(key, None)

    def _purge(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            until, key = heapq.heappop(heap)
            if self._until.get(key) == until:
                del self._until[key]
        # Released keys leave stale heap entries; rebuild when they dominate.
        if len(heap) > 2 * self._max:
            self._heap = [(u, k) for k, u in self._until.items()]
            heapq.heapify(self._heap)

    def _evict_one(self) -> None:
        if not self._warned:
            log.warning("JWT replay cache full (%d ids): forgetting the oldest early", self._max)
            self._warned = True
        while self._heap:
            until, key = heapq.heappop(self._heap)
            if self._until.get(key) == until:
                del self._until[key]
                return
