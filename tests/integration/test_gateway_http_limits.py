"""The HTTP limits of a real `switchboard gateway` (gateway.connections), over raw sockets.

One gateway for the module, with the default head limits (16 KiB, 100 headers), short
timeouts (header and body 2 s, idle 3 s) and a cap of 40 connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from switchboard.tenantsfile import write_tenants
from tests.integration.gateway_process import GatewayServer, ready_gateway
from tests.integration.streams_fixtures import create_topic
from tests.unit.gateway.support import ACME_TOKEN, apple_body, tenants_config

pytestmark = pytest.mark.kafka

HEADER_TIMEOUT_S, BODY_TIMEOUT_S, IDLE_S, MAX_CONNECTIONS = 2.0, 2.0, 3, 40
HEAD = b"POST /v1/notifications HTTP/1.1\r\nHost: gateway\r\n"


@pytest.fixture(scope="module")
def gateway(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    home = tmp_path_factory.mktemp("limits")
    topic = f"limits-{home.name}"
    asyncio.run(create_topic(kafka_bootstrap, topic, 1))
    with ready_gateway(
        {
            "SWITCHBOARD_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "SWITCHBOARD_TENANTS_FILE": str(write_tenants(home / "tenants.yaml", tenants_config())),
            "SWITCHBOARD_RAW_TOPIC": topic,
            "SWITCHBOARD_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
            "SWITCHBOARD_HTTP_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
            "SWITCHBOARD_HTTP_IDLE_TIMEOUT_S": str(IDLE_S),
            "SWITCHBOARD_HTTP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        },
        home / "gateway.log",
    ) as server:
        yield server


def connect(gateway: GatewayServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=10)


def answer(sock: socket.socket, within_s: float = 10.0) -> bytes:
    """Everything the server sends until it closes (b"" if it reset the connection)."""
    sock.settimeout(within_s)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def post(body: bytes) -> bytes:
    return (
        HEAD + b"Authorization: Bearer " + ACME_TOKEN.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )


def test_a_head_over_16_kib_is_431(gateway: GatewayServer) -> None:
    with connect(gateway) as sock:
        sock.sendall(HEAD + b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        got = answer(sock)
    assert got.startswith(b"HTTP/1.1 431 "), got[:200]
    assert b"application/problem+json" in got and b"over 16384 bytes" in got


def test_an_8_mib_header_is_cut_off_early(gateway: GatewayServer) -> None:
    """Sent as fast as the socket takes it: the gateway answers 431 and closes after
    reading a fraction; a sender still writing may see its connection reset instead."""
    sent = 0
    with connect(gateway) as sock:
        sock.sendall(HEAD + b"X-Big: ")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < 8 << 20:
                sent += sock.send(b"a" * 65536)
        got = answer(sock)
    assert sent < 8 << 20 or got.startswith(b"HTTP/1.1 431 ") or got == b""
    assert got == b"" or got.startswith(b"HTTP/1.1 431 ")


def test_more_than_100_headers_are_431(gateway: GatewayServer) -> None:
    many = b"".join(b"X-H-%d: v\r\n" % i for i in range(150))
    with connect(gateway) as sock:
        sock.sendall(HEAD + many + b"\r\n")
        got = answer(sock)
    assert got.startswith(b"HTTP/1.1 431 "), got[:200]
    assert b"more than 100 headers" in got
    with connect(gateway) as sock:  # 20,000 headers: over the size limit long before
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(HEAD + b"".join(b"X-H-%d: v\r\n" % i for i in range(20_000)) + b"\r\n")
        got = answer(sock)
    assert got == b"" or got.startswith(b"HTTP/1.1 431 ")


def closed_after(sock: socket.socket, trickle: bytes | None) -> tuple[float, bytes]:
    """Seconds until the server closes, sending `trickle` every 0.2 s meanwhile."""
    started, data = time.monotonic(), b""
    sock.settimeout(0.2)
    while time.monotonic() - started < 30:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if trickle:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(trickle)
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return time.monotonic() - started, data


def test_a_trickled_head_is_408_and_closed(gateway: GatewayServer) -> None:
    with connect(gateway) as sock:
        sock.sendall(HEAD)
        seconds, got = closed_after(sock, b"X-Slow: a\r\n")
    assert HEADER_TIMEOUT_S - 0.3 < seconds < HEADER_TIMEOUT_S + 3, seconds
    assert got.startswith(b"HTTP/1.1 408 ") and b"headers did not arrive" in got, got


def test_a_trickled_body_is_408_and_closed(gateway: GatewayServer) -> None:
    body = apple_body()
    with connect(gateway) as sock:
        sock.sendall(post(body)[: -len(body)] + body[:10])
        seconds, got = closed_after(sock, b" ")
    due = HEADER_TIMEOUT_S + BODY_TIMEOUT_S  # the whole request, from its first byte
    assert due - 0.3 < seconds < due + 3, seconds
    assert got.startswith(b"HTTP/1.1 408 ") and b"body did not arrive" in got, got


def test_an_idle_connection_is_closed(gateway: GatewayServer) -> None:
    with connect(gateway) as sock:
        seconds, got = closed_after(sock, None)
    assert IDLE_S - 0.3 < seconds < IDLE_S + 3 and got == b"", (seconds, got)


def response(sock: socket.socket) -> bytes:
    """One whole response (head and Content-Length body) from a keep-alive connection."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(v for n, _, v in _fields(head) if n == b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _fields(head: bytes) -> list[tuple[bytes, bytes, bytes]]:
    return [line.lower().partition(b": ") for line in head.split(b"\r\n")[1:]]


def test_keep_alive_requests_each_get_their_own_time(gateway: GatewayServer) -> None:
    """Requests on one connection for longer than the header timeout are all served."""
    with connect(gateway) as sock:
        for _ in range(4):
            sock.sendall(post(apple_body()))
            got = response(sock)
            assert got.startswith(b"HTTP/1.1 202 "), got
            time.sleep(0.8)  # the sender's pace between requests, not a synchronisation


def test_unfinished_16_mib_headers_do_not_grow_the_gateway(gateway: GatewayServer) -> None:
    """8 connections each sending 16 MiB of one header: before the limits these took the
    gateway from 69 to 201 MiB; each is now cut at about 16 KiB plus one read."""
    before = gateway.rss_kib()
    socks = [connect(gateway) for _ in range(8)]
    open_ = list(socks)
    try:
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: ")
        chunk, sent = b"a" * 65536, 0
        while open_ and sent < 16 << 20:
            for sock in list(open_):
                try:
                    sock.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    open_.remove(sock)
            sent += len(chunk)
        grown = gateway.rss_kib() - before
    finally:
        for sock in socks:
            sock.close()
    assert grown < 24 * 1024, f"RSS grew {grown} KiB"
    assert not open_, "the gateway kept reading unfinished heads"


def test_connections_over_the_cap_get_503(gateway: GatewayServer) -> None:
    held = [connect(gateway) for _ in range(MAX_CONNECTIONS)]
    try:
        deadline = time.monotonic() + 5
        while True:  # until the server has seen all of them (accept runs on its loop)
            with connect(gateway) as extra:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
                got = answer(extra)
            if got.startswith(b"HTTP/1.1 503 ") or time.monotonic() > deadline:
                break
        assert got.startswith(b"HTTP/1.1 503 "), got
        assert b"too many open connections" in got
        assert "connection refused" in gateway.log()
        held.pop().close()
        deadline = time.monotonic() + 5
        while gateway.status("/healthz") != 200:
            assert time.monotonic() < deadline, "a freed place was not given again"
            time.sleep(0.05)
    finally:
        for sock in held:
            sock.close()
