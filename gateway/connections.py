"""Limits on HTTP connections that uvicorn does not enforce, as its httptools protocol class.

The gateway runs uvicorn's httptools protocol (uvicorn[standard]; h11 would bound the
head's size through h11_max_incomplete_event_size, but neither counts headers nor times
out a slow head, and costs more CPU). As shipped it bounds nothing but keep-alive idleness:
an 8 MiB header and 20,000 headers were accepted, an unfinished header grows in memory as
long as the sender trickles it (httptools keeps it whole until it ends), and a connection
that never finishes its head is held forever. `limited_protocol(limits)` adds:

- a request head over `max_header_bytes` or with more than `max_headers` headers: 431;
- a connection with no request `idle_s` after it opened (uvicorn's own keep-alive timeout
  closes idle connections between requests), a head incomplete `header_timeout_s` after
  its first byte, a request incomplete `header_timeout_s + body_timeout_s` after it: 408
  if a request was under way, then the connection is closed;
- past `max_connections` open connections a new one is answered 503 and closed before
  anything of it is read.

Each refusal is a problem document and closes the connection. A head is measured by the
bytes of reads that end with it incomplete, so one of any size is cut once it passes the
limit, whatever the pace; a head complete within one read is measured exactly only when
that read was larger than the limit (bodies usually share the head's read). One timer a
connection, re-armed only when it fires before its deadline: a request costs one clock
read, not three timers.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.errors import problem_message

log = logging.getLogger(__name__)
_NEVER = float("inf")
_TIMER_SLACK_S = 0.005  # uvloop rounds timers to the millisecond: one may fire just early


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int
    max_headers: int
    idle_s: float
    header_timeout_s: float
    body_timeout_s: float
    max_connections: int


@dataclass(frozen=True)
class _Refusals:
    """The whole answers, made once."""

    too_many_connections: bytes
    head_too_large: bytes
    too_many_headers: bytes
    head_too_slow: bytes
    body_too_slow: bytes

    @classmethod
    def of(cls, limits: HttpLimits) -> "_Refusals":
        return cls(
            problem_message(503, "the gateway has too many open connections; retry later"),
            problem_message(
                431, f"the request line and headers are over {limits.max_header_bytes} bytes"
            ),
            problem_message(431, f"the request has more than {limits.max_headers} headers"),
            problem_message(
                408, f"the request headers did not arrive within {limits.header_timeout_s:g} s"
            ),
            problem_message(
                408, f"the request body did not arrive within {limits.body_timeout_s:g} s"
            ),
        )


def limited_protocol(limits: HttpLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with `limits`, for uvicorn.Config(http=...)."""
    attributes = {"limits": limits, "refusals": _Refusals.of(limits)}
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), attributes)


class LimitedHttpProtocol(HttpToolsProtocol):
    limits: ClassVar[HttpLimits]
    refusals: ClassVar[_Refusals]
    # A flood of connections must not become a flood of log lines: one a second at most.
    refused_connections: ClassVar[int] = 0
    refusal_logged_at: ClassVar[float] = float("-inf")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused = False  # answered by this class: nothing more to parse or send
        self._in_request = False  # from a request's first byte to its body's last
        self._reading_head = True
        self._head_bytes = 0
        self._read_size = 0
        self._message_ended = False  # in the current read
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = _NEVER  # when the timer fires; _NEVER while there is none

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            self._log_refused_connection()
            transport.write(self.refusals.too_many_connections)
            transport.close()
            return
        super().connection_made(transport)
        self._set_deadline(self.limits.idle_s)

    def _log_refused_connection(self) -> None:
        cls = type(self)
        cls.refused_connections += 1
        now = self.loop.time()
        if now - cls.refusal_logged_at >= 1.0:
            log.warning(
                "connection refused: %d open already (the cap, SWITCHBOARD_HTTP_MAX_CONNECTIONS); "
                "%d refused so far",
                len(self.connections),
                cls.refused_connections,
            )
            cls.refusal_logged_at = now

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, _NEVER
        if self.transport is not None:  # None: refused before uvicorn saw it
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, plus the head's size; a refusal raised by a callback stops the parser."""
        if self._refused:
            return
        self._unset_keepalive_if_required()
        self._read_size, self._message_ended = len(data), False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if not self._refused:
                msg = "Invalid HTTP request received."
                self.logger.warning(msg)
                self.send_400_response(msg)
            return
        if self._reading_head and not self._message_ended:
            self._head_bytes += len(data)  # a read that ends inside the head is all head
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(self.refusals.head_too_large)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_request = True
        self._set_deadline(self.limits.header_timeout_s)

    # The body's deadline counts from the head's (no second clock read a request): the
    # whole request is due header_timeout_s + body_timeout_s after its first byte.

    def on_headers_complete(self) -> None:
        limits, read_before = self.limits, self._head_bytes
        self._reading_head, self._head_bytes = False, 0
        large_read = read_before + self._read_size > limits.max_header_bytes
        if large_read and self._head_size() > limits.max_header_bytes:
            self._refuse(self.refusals.head_too_large)
            raise _Refused
        if len(self.headers) > limits.max_headers:
            self._refuse(self.refusals.too_many_headers)
            raise _Refused
        self._deadline += limits.body_timeout_s  # type: ignore[operator]  # set at the begin
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_request, self._reading_head, self._message_ended = False, True, True
        self._deadline = None  # the app's own timeouts bound the answer

    def _head_size(self) -> int:
        return len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers) + 16

    def _set_deadline(self, seconds: float) -> None:
        deadline = self._deadline = self.loop.time() + seconds
        if deadline < self._timer_at:  # else the armed timer fires first and re-arms
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, _NEVER
        deadline = self._deadline
        if deadline is None or self.transport.is_closing():
            return
        if self.loop.time() < deadline - _TIMER_SLACK_S:
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._on_timer)
            return
        if not self._in_request:
            self.transport.close()  # idle since it opened: nothing to answer
        elif self._reading_head:
            self._refuse(self.refusals.head_too_slow)
        elif self.cycle is None or self.cycle.response_started:
            self.transport.close()
        else:
            self._refuse(self.refusals.body_too_slow)

    def _refuse(self, message: bytes) -> None:
        """Answer `message` and close; an app still reading the body sees a disconnect."""
        self._refused = True
        self._deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.write(message)
        self.transport.close()


class _Refused(Exception):
    """Raised in a parser callback after a refusal: llhttp stops at once."""
