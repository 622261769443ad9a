"""How long this worker can be sure the consumer group still counts it as a member.

The group coordinator takes a member's partitions away once it has heard nothing from it
for the session timeout. A worker cut off from the coordinator (a network cut, every
broker down for longer than that) learns it only when it reaches the coordinator again,
and its fetch loop may meanwhile get records from partition leaders that are back first.
Processed then, their outputs land after the new owner read its output marks
(streams.watermarks), and are repeated.

So the worker processes a record only while its lease holds: for `valid_for_s` after the
last sign that the coordinator counted it in (a successful heartbeat, timed from when it
was sent, or a completed join). The coordinator cannot have ended the session before
`session_timeout` has passed since then; `valid_for_s` is shorter, so that outputs queued
just before the lease ends reach Kafka before the partitions can move.
"""

import time
from collections.abc import Callable

# Of the session timeout: what is left over covers an output's way to Kafka.
LEASE_SHARE_OF_SESSION = 2 / 3


class Lease:
    """Renewed by the consumer's group membership (streams.faustfence), asked by delivery."""

    def __init__(self, valid_for_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.valid_for_s = valid_for_s
        self._clock = clock
        self._renewed_at: float | None = None  # never: not a member yet

    @classmethod
    def for_session(cls, session_timeout_s: float) -> "Lease":
        return cls(session_timeout_s * LEASE_SHARE_OF_SESSION)

    def renewed(self, at: float | None = None) -> None:
        """The coordinator counted us in at `at` (the clock's time; now if None)."""
        at = self._clock() if at is None else at
        if self._renewed_at is None or at > self._renewed_at:
            self._renewed_at = at

    def held(self) -> bool:
        return self._renewed_at is not None and self._clock() - self._renewed_at < self.valid_for_s

    def age_s(self) -> float | None:
        """Seconds since the last renewal; None before the first."""
        return None if self._renewed_at is None else self._clock() - self._renewed_at
