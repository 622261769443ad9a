"""Open-loop HTTP/1.1 load over raw keep-alive sockets, for the benchmarks.

httpx costs a few milliseconds of CPU per request, which caps a generator sharing a small
machine with the gateway at a few hundred requests/s. Here requests are rendered to bytes
before the clock starts and written straight to an `asyncio.Protocol`, so one core offers
thousands per second. Open loop: request i is due at start + i/rate and leaves then whether
or not earlier ones were answered, and its latency runs from that scheduled time, so a slow
server (or a late generator) shows as latency rather than as a lower offered rate.

Each connection carries one request at a time. With none idle the pool opens another, up
to its limit; past the limit a request is not sent at all and is counted as `busy`, so load
the generator could not carry stays visible instead of queueing behind the connections.
Answers are read by Content-Length (no chunked bodies): enough for a JSON API.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def render_post(path: str, body: bytes, headers: Mapping[str, str], host: str = "load") -> bytes:
    """One HTTP/1.1 POST as it goes on the wire."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


@dataclass
class Segment:
    """What one `offer` did. Times are time.perf_counter() seconds."""

    rate: float
    seconds: float
    offered: int = 0  # requests due: rate x seconds
    sent: int = 0
    busy: int = 0  # not sent: every connection was carrying one and the pool was at its limit
    lost: int = 0  # sent or waiting, and the connection closed (or never opened) unanswered
    statuses: Counter[int] = field(default_factory=Counter)  # answers by status code
    latencies: list[float] = field(default_factory=list)  # 2xx only, from the scheduled time
    start: float = 0.0  # when the first request was due
    last_sent: float = 0.0
    last_answer: float = 0.0
    late: int = 0  # 2xx answers after the offering ended
    lag_s: float = 0.0  # the most the generator fell behind the schedule

    @property
    def end(self) -> float:
        return self.start + self.seconds

    @property
    def accepted(self) -> int:
        return len(self.latencies)

    @property
    def unanswered(self) -> int:
        """Sent (or waiting for a connection) but neither answered nor lost by the end."""
        return self.offered - self.busy - self.lost - self.statuses.total()

    @property
    def took(self) -> float:
        """From the first due time until the offering ended or the last answer, if later."""
        return max(self.end, self.last_answer) - self.start

    @property
    def sending_s(self) -> float:
        """From the first due time until one interval after the last send."""
        return self.last_sent - self.start + 1 / self.rate if self.sent else self.seconds

    @property
    def sent_per_s(self) -> float:
        """The rate requests really left at: below `rate` when the generator fell behind."""
        return self.sent / self.sending_s

    def answer(self, status: int, scheduled: float) -> None:
        now = time.perf_counter()
        self.statuses[status] += 1
        self.last_answer = now
        if 200 <= status < 300:
            self.latencies.append(now - scheduled)
            self.late += now > self.end


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool, self.buffer = pool, bytearray()
        self.current: tuple[float, Segment] | None = None
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def send(self, request: bytes, scheduled: float, segment: Segment) -> None:
        self.current = (scheduled, segment)
        segment.sent += 1
        segment.last_sent = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = bytes(self.buffer[:head_end]).lower()
        size = head_end + 4 + _content_length(head)
        if len(self.buffer) < size:
            return
        del self.buffer[:size]
        if self.current is not None:
            (scheduled, segment), self.current = self.current, None
            segment.answer(int(head[9:12]), scheduled)
        self.pool.release(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.current is not None:
            self.current[1].lost += 1
        self.pool.lost(self)


def _content_length(head: bytes) -> int:
    start = head.find(b"\r\ncontent-length:")
    if start < 0:
        return 0
    start += len(b"\r\ncontent-length:")
    stop = head.find(b"\r\n", start)
    return int(head[start : stop if stop >= 0 else len(head)])


class Pool:
    """Keep-alive connections to one server, at most `limit` of them open or opening."""

    def __init__(self, host: str, port: int, limit: int = 512) -> None:
        self.host, self.port, self.limit = host, port, limit
        self.connections: set[Connection] = set()
        self.opening = 0
        self.idle: deque[Connection] = deque()
        self.waiting: deque[tuple[bytes, float, Segment]] = deque()  # for connections opening
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def count(self) -> int:
        return len(self.connections) + self.opening

    async def open(self, count: int) -> None:
        """Open `count` connections ahead of the load; raises OSError when the server can't
        be reached."""
        await asyncio.gather(*(self._connect() for _ in range(count)))

    async def _connect(self) -> None:
        self.opening += 1
        try:
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(lambda: Connection(self), self.host, self.port)
        finally:
            self.opening -= 1
        self.connections.add(conn)
        self.release(conn)

    async def _grow(self) -> None:
        try:
            await self._connect()
        except OSError:
            if self.waiting:  # the request this connection was opened for
                self.waiting.popleft()[2].lost += 1

    def dispatch(self, request: bytes, scheduled: float, segment: Segment) -> None:
        if self.idle:
            self.idle.pop().send(request, scheduled, segment)
        elif self.count >= self.limit:
            segment.busy += 1
        else:
            self.waiting.append((request, scheduled, segment))
            task = asyncio.get_running_loop().create_task(self._grow())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def release(self, conn: Connection) -> None:
        if self.waiting:
            conn.send(*self.waiting.popleft())
        else:
            self.idle.append(conn)

    def lost(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)

    def close(self) -> None:
        for conn in list(self.connections):
            conn.transport.close()


async def offer(
    pool: Pool, requests: Sequence[bytes], rate: float, seconds: float, drain_s: float = 15.0
) -> Segment:
    """Send rate x seconds requests on schedule (cycling through `requests`), then wait up
    to `drain_s` for the answers still outstanding."""
    segment = Segment(rate, seconds, offered=int(rate * seconds))
    segment.start = time.perf_counter() + 0.01
    due = 0
    while due < segment.offered:
        # Everything due by now goes out in one batch: sleeps are coarser than 1/rate.
        now = time.perf_counter()
        now_due = min(segment.offered, int((now - segment.start) * rate) + 1)
        if now_due > due:
            segment.lag_s = max(segment.lag_s, now - (segment.start + due / rate))
        while due < now_due:
            pool.dispatch(requests[due % len(requests)], segment.start + due / rate, segment)
            due += 1
        await asyncio.sleep(0.002)
    deadline = time.perf_counter() + drain_s
    # Polled: answers arrive in protocol callbacks on many connections, nothing to await.
    while segment.unanswered > 0 and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    return segment
