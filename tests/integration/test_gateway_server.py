"""`switchboard gateway` as a real process: uvicorn over TCP, SIGHUP reload, clean stop.

The periodic reload is set to an hour here, so only SIGHUP can make the new tenants file
take effect.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.localkafka import REPO_ROOT, free_port
from switchboard.tenantsfile import write_tenants
from tests.integration.gateway_process import ready_gateway
from tests.integration.streams_fixtures import create_topic
from tests.unit.gateway.support import (
    ACME_NEXT_TOKEN,
    ACME_TOKEN,
    apple_body,
    bearer,
    tenants_config,
)

pytestmark = pytest.mark.kafka


@pytest.fixture
def tenants_file(tmp_path: Path) -> Path:
    return write_tenants(tmp_path / "tenants.yaml", tenants_config())


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    return tmp_path / "gateway.log"


@pytest.fixture
def server(
    kafka_bootstrap: str, unique_name: str, tenants_file: Path, log_file: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    asyncio.run(create_topic(kafka_bootstrap, unique_name, 1))
    port = free_port()
    env = {
        **os.environ,
        "SWITCHBOARD_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SWITCHBOARD_TENANTS_FILE": str(tenants_file),
        "SWITCHBOARD_RAW_TOPIC": unique_name,
        "SWITCHBOARD_TENANTS_RELOAD_INTERVAL_S": "3600",
    }
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "switchboard", "gateway", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, log_file.read_text()
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def post(url: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/notifications", content=apple_body(), headers=bearer(token), timeout=10
    )


def test_sighup_reloads_the_tenants_file(
    server: tuple[subprocess.Popen[bytes], str], tenants_file: Path
) -> None:
    process, url = server
    assert post(url, ACME_TOKEN).status_code == 202
    write_tenants(tenants_file, tenants_config((ACME_NEXT_TOKEN,)))
    assert post(url, ACME_TOKEN).status_code == 202  # not re-read yet

    process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while post(url, ACME_TOKEN).status_code != 401:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert post(url, ACME_NEXT_TOKEN).status_code == 202


def test_odd_http_is_answered_4xx_by_the_real_server(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    _, url = server
    long_auth = {"Authorization": "Bearer " + "a" * 60_000, "Content-Type": "application/json"}
    response = httpx.post(f"{url}/v1/notifications", content=apple_body(), headers=long_auth)
    assert 400 <= response.status_code < 500
    injected = {
        "Authorization": f"Bearer {ACME_TOKEN}",
        "Content-Type": "application/json",
        "X-Request-ID": "abc%0d%0aSet-Cookie:%20x=1",
    }
    response = httpx.post(f"{url}/v1/notifications", content=apple_body(), headers=injected)
    assert response.status_code == 202
    assert "set-cookie" not in response.headers
    assert response.headers["x-request-id"] != injected["X-Request-ID"]
    response = httpx.post(f"{url}/v1/notifications", content=b"{", headers=bearer(ACME_TOKEN))
    assert response.status_code == 400


def test_sigterm_stops_the_gateway_cleanly(
    server: tuple[subprocess.Popen[bytes], str], log_file: Path
) -> None:
    process, _ = server
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal to exit the expected way.
    assert process.wait(20) in (0, -signal.SIGTERM)
    log = log_file.read_text()
    assert "Application shutdown complete" in log
    assert "Kafka producer closed" in log


def test_every_line_of_the_gateway_is_json_with_request_id_tenant_and_outcome(
    kafka_bootstrap: str, unique_name: str, tenants_file: Path, log_file: Path
) -> None:
    asyncio.run(create_topic(kafka_bootstrap, unique_name, 1))
    env = {
        "SWITCHBOARD_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SWITCHBOARD_TENANTS_FILE": str(tenants_file),
        "SWITCHBOARD_RAW_TOPIC": unique_name,
        "SWITCHBOARD_ACCESS_LOG": "true",
    }
    with ready_gateway(env, log_file) as gateway:
        accepted = post(gateway.url, ACME_TOKEN)
        refused = post(gateway.url, "not-a-token")
        assert (accepted.status_code, refused.status_code) == (202, 401)
        ids = {accepted.headers["x-request-id"], refused.headers["x-request-id"]}

        def logged() -> dict[str, dict[str, Any]]:
            lines = gateway.lines("gateway.requests")
            return {line["request_id"]: line for line in lines if line.get("request_id") in ids}

        deadline = time.monotonic() + 10  # a line is written once its answer has left
        while len(logged()) < 2:
            assert time.monotonic() < deadline, gateway.log()
            time.sleep(0.05)
    lines = gateway.lines()  # every line is JSON
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    assert any(line["logger"] == "uvicorn.error" for line in lines)  # "Uvicorn running on"
    by_id = logged()
    ok, bad = by_id[accepted.headers["x-request-id"]], by_id[refused.headers["x-request-id"]]
    assert (ok["msg"], ok["status"], ok["tenant"]) == ("accepted", 202, "acme")
    assert (bad["msg"], bad["status"], bad["problem"]) == ("refused", 401, "authentication")
    assert ok["client"] == bad["client"] == "127.0.0.1"
