"""The gateway's log lines about requests: the request id, the tenant and the outcome.

One line per answer worth a line (logger `gateway.requests`, msg the outcome):

    5xx           always, level error: a publish failure is a 503 whose problem says why
                  (kafka-unavailable, publish-timeout); but not /readyz's 503, whose
                  changes gateway.readiness logs instead of every probe
    4xx, 499      level warning, at most `refusals_per_s` lines a second per process
                  (SWITCHBOARD_LOG_REFUSALS_PER_S); the others are counted and the count
                  is logged in one line when that second is over, so a flood of bad
                  requests (an attack, a sender with a revoked token) cannot flood the log
    2xx, 3xx      only with SWITCHBOARD_ACCESS_LOG, level info: an accepted request pays
                  one comparison here, nothing else

The problem type comes from gateway.errors, which builds every problem answer and notes
it here (`note_problem`). Every other line written while a request is handled (an
unhandled exception, uvicorn's error log) carries the request id and tenant too:
`current_fields` is the JSON formatter's context (schemas.logformat).
"""

import asyncio
import logging
import math
import time
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from starlette.types import Scope

log = logging.getLogger("gateway.requests")
MAX_LOGGED_PATH = 200  # the request head is bounded, a log line should be shorter still

# The scope state of the request being handled in this task (request_id, tenant, problem).
_state: ContextVar[dict[str, Any] | None] = ContextVar("switchboard_request", default=None)


def enter(state: dict[str, Any]) -> Token[dict[str, Any] | None]:
    return _state.set(state)


def leave(token: Token[dict[str, Any] | None]) -> None:
    _state.reset(token)


def note_problem(problem: str, detail: str, reason: str | None = None) -> None:
    """The problem the request being handled is answered with (gateway.errors)."""
    state = _state.get()
    if state is not None:
        state["problem"], state["detail"] = problem, detail
        if reason is not None:
            state["reason"] = reason


def current_fields() -> dict[str, Any] | None:
    """The request id and tenant of the request being handled, for every log line."""
    state = _state.get()
    if state is None:
        return None
    fields = {"request_id": state.get("request_id")}
    if state.get("tenant"):
        fields["tenant"] = state["tenant"]
    return fields


class LineBudget:
    """At most `per_s` lines in each second; those over it are only counted."""

    def __init__(self, per_s: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s = per_s
        self.suppressed = 0
        self._clock = clock
        self._window_end = -math.inf
        self._used = 0

    def take(self) -> bool:
        now = self._clock()
        if now >= self._window_end:
            self._window_end, self._used = now + 1.0, 0
        if self._used < self.per_s:
            self._used += 1
            return True
        self.suppressed += 1
        return False

    def window_left_s(self) -> float:
        return max(self._window_end - self._clock(), 0.0)


class RequestLog:
    """Writes the outcome lines; `access_log` adds one for every other answer."""

    def __init__(self, access_log: bool, refusals: LineBudget) -> None:
        self.access_log = access_log
        self.refusals = refusals

    def answered(self, scope: Scope, state: dict[str, Any], status: int, ms: float) -> None:
        if state.get("logged"):  # the route logged what matters itself (gateway.readiness)
            return
        if 400 <= status < 500:
            if not self.refusals.take():
                if self.refusals.suppressed == 1:  # the first this second: report it later
                    loop = asyncio.get_running_loop()
                    loop.call_later(self.refusals.window_left_s(), self.report_suppressed)
                return
            level, outcome = logging.WARNING, "refused"
        elif status >= 500:
            level, outcome = logging.ERROR, "failed"
        elif self.access_log:
            level, outcome = logging.INFO, "accepted" if status == 202 else "answered"
        else:
            return
        log.log(level, outcome, extra={"fields": _fields(scope, state, status, ms)})

    def report_suppressed(self) -> None:
        count, self.refusals.suppressed = self.refusals.suppressed, 0
        if count:
            fields = {"suppressed": count, "limit_per_s": self.refusals.per_s}
            log.warning("refusal lines suppressed", extra={"fields": fields})


def _fields(scope: Scope, state: dict[str, Any], status: int, ms: float) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "request_id": state.get("request_id"),
        "tenant": state.get("tenant"),
        "status": status,
        "method": scope.get("method"),
        "path": scope.get("path", "")[:MAX_LOGGED_PATH],
        "ms": round(ms, 3),
    }
    if status == 499:
        fields["problem"] = "client-gone"
    for name in ("problem", "reason", "detail"):
        if name in state:
            fields[name] = state[name]
    client = scope.get("client")
    if client:
        fields["client"] = client[0]
    return fields
