"""The open-loop generator against a tiny HTTP/1.1 server started here (no Kafka).

The server answers POST /status/NNN with NNN (202 for any other path) after `delay`
seconds, and hangs up without answering on /status/0.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from switchboard.bench import percentile
from switchboard.loadgen import Pool, Segment, offer, render_post


@dataclass
class Server:
    port: int
    arrivals: list[float] = field(default_factory=list)  # perf_counter, one per request


@asynccontextmanager
async def http_server(delay: float = 0.0) -> AsyncIterator[Server]:
    handlers: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                served.arrivals.append(time.perf_counter())
                length = re.search(rb"content-length: *(\d+)", head.lower())
                await reader.readexactly(int(length.group(1)) if length else 0)
                path = head.split(b" ", 2)[1]
                status = int(path.rsplit(b"/", 1)[1]) if path.startswith(b"/status/") else 202
                if status == 0:
                    return
                await asyncio.sleep(delay)
                body = b'{"ok": true}'
                writer.write(
                    b"HTTP/1.1 %d Whatever\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (status, len(body), body)
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    served = Server(server.sockets[0].getsockname()[1])
    async with server:
        try:
            yield served
        finally:
            # Python 3.11's Server.close() leaves connection handlers running; one still
            # pending when the test's loop closes is destroyed with a warning (an error here).
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)


def post(path: str = "/v1/notifications") -> bytes:
    return render_post(path, b'{"a": 1}', {"Content-Type": "application/json"})


async def run(server: Server, requests: list[bytes], rate: float, seconds: float,
              limit: int = 64, preopen: int = 0) -> Segment:  # fmt: skip
    pool = Pool("127.0.0.1", server.port, limit)
    try:
        await pool.open(preopen)
        return await offer(pool, requests, rate, seconds, drain_s=5)
    finally:
        pool.close()


def test_render_post_is_a_complete_request() -> None:
    wire = render_post("/x", b"{}", {"Authorization": "Bearer t"}, host="h")
    assert (
        wire
        == b"POST /x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\nContent-Length: 2\r\n\r\n{}"
    )


async def test_requests_leave_on_schedule_not_all_at_once() -> None:
    async with http_server() as server:
        segment = await run(server, [post()], rate=200, seconds=1.5)
    assert segment.offered == 300
    assert segment.sent == 300 and len(server.arrivals) == 300
    assert segment.busy == segment.lost == segment.unanswered == 0
    spread = server.arrivals[-1] - server.arrivals[0]
    assert 1.3 < spread < 1.8, spread
    first_half = sum(t < server.arrivals[0] + 0.75 for t in server.arrivals)
    assert 120 <= first_half <= 180, first_half
    assert 170 < segment.sent_per_s < 230, segment.sent_per_s
    assert segment.lag_s < 0.25, segment.lag_s


async def test_statuses_are_counted_and_only_2xx_timed() -> None:
    paths = ["/v1/notifications", "/status/401", "/status/422", "/status/503", "/status/200"]
    async with http_server() as server:
        segment = await run(server, [post(p) for p in paths], rate=100, seconds=1)
    assert segment.statuses == {202: 20, 401: 20, 422: 20, 503: 20, 200: 20}
    assert segment.accepted == len(segment.latencies) == 40


async def test_latency_runs_from_the_scheduled_time() -> None:
    async with http_server(delay=0.2) as server:
        segment = await run(server, [post()], rate=50, seconds=1)
    assert segment.accepted == 50
    assert 0.2 <= percentile(segment.latencies, 50) < 0.3, segment.latencies


async def test_a_stalled_generator_shows_as_latency() -> None:
    async def stall() -> None:
        await asyncio.sleep(0.3)
        time.sleep(0.4)  # noqa: ASYNC251 - blocks the loop: requests due meanwhile leave late

    async with http_server() as server:
        stalled = asyncio.create_task(stall())
        segment = await run(server, [post()], rate=100, seconds=1, preopen=8)
        await stalled
    assert segment.accepted == 100
    assert max(segment.latencies) >= 0.35, max(segment.latencies)
    assert segment.lag_s >= 0.35, segment.lag_s
    assert percentile(segment.latencies, 50) < 0.1  # the others were on time


async def test_requests_find_every_connection_busy_are_counted_not_queued() -> None:
    async with http_server(delay=0.5) as server:
        segment = await run(server, [post()], rate=20, seconds=1, limit=2, preopen=2)
    assert segment.offered == 20
    assert segment.sent + segment.busy == 20
    assert 2 <= segment.sent <= 6 and segment.busy >= 14, (segment.sent, segment.busy)
    assert len(server.arrivals) == segment.sent == segment.statuses[202]


async def test_hang_ups_and_refused_connections_count_as_lost() -> None:
    async with http_server() as server:
        segment = await run(server, [post("/status/0"), post()], rate=40, seconds=0.5)
    assert segment.lost == 10 and segment.statuses == {202: 10}
    async with http_server() as server:
        port = server.port
    segment = await run(Server(port), [post()], rate=20, seconds=0.5)
    assert segment.lost == 10 and segment.sent == 0 and segment.unanswered == 0
