"""The log of /readyz: a line when readiness is lost (with the reason) and one when it is
back, not one per probe. Kubernetes probes every few seconds, so during a Kafka outage a
line per 503 would fill the log with the same news; the probes' 503s are still counted
in the request metrics."""

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class ReadinessLog:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._reason: str | None = None  # why not ready, as last logged; None: ready
        self._since = 0.0

    def observe(self, ready: bool, reason: str) -> None:
        """What a probe found; logs it only when it differs from the last probe."""
        now = self._clock()
        if ready:
            if self._reason is not None:
                fields = {"not_ready_s": round(now - self._since, 3)}
                log.warning("ready again", extra={"fields": fields})
                self._reason = None
        elif reason != self._reason:
            if self._reason is None:
                self._since = now
            log.error("not ready", extra={"fields": {"reason": reason}})
            self._reason = reason
