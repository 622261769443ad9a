"""One real worker, started as the README shows (`switchboard worker` in a fresh directory).

It creates its data directory, serves only the documented routes (none of Faust's own
pages, though a row exists that /table/ would show), and answers 401 to an Authorization
header that is not UTF-8, as sent on a raw socket.
"""

import asyncio
import json
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.streams_fixtures import (
    WorkerGroup,
    WorkerProcess,
    gateway_headers,
    produce,
    query,
    wait_caught_up,
)

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

UID = "2049025000431439"
ROW_KEY = "%5B%222049025000431439%22%2C%22408709785%22%2C%22STDQ%22%5D"  # the key


class FreshDirectoryWorker(WorkerProcess):
    """`switchboard worker` run in `cwd`, with the default (relative) data directory."""

    cwd: Path

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "switchboard", "worker"],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=log,
            )


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    group = WorkerGroup(
        kafka_bootstrap, Path(tmp_path_factory.mktemp("streams-web")), uids=[UID], partitions=2
    )
    planned = group.add_worker()
    env = {k: v for k, v in planned.env.items() if k != "SWITCHBOARD_DATA_DIR"}
    fresh = FreshDirectoryWorker(planned.name, env, planned.port, planned.log_path)
    fresh.cwd = Path(tmp_path_factory.mktemp("fresh-clone"))
    group.workers[0] = fresh
    try:
        fresh.start()
        fresh.wait_ready()
        body = {
            "notification": {"adamId": "408709785", "countDelta": -12, "pricingParam": "STDQ"},
            "notificationId": str(uuid.uuid4()),
            "notificationType": "ASSET_COUNT",
            "uId": UID,
        }
        record = (UID.encode(), json.dumps(body).encode(), gateway_headers("apple"))
        asyncio.run(produce(kafka_bootstrap, group.topic("raw-notifications"), [record]))
        asyncio.run(
            wait_caught_up(kafka_bootstrap, group.name, group.topic("raw-notifications"), 2)
        )
        yield fresh
    finally:
        group.stop()


def test_started_in_a_fresh_directory_it_creates_its_data_dir(worker: WorkerProcess) -> None:
    assert isinstance(worker, FreshDirectoryWorker)
    assert (worker.cwd / ".dev" / "streams").is_dir()
    assert worker.ready()


def test_the_row_is_served_to_its_tenant(worker: WorkerProcess) -> None:
    status, body = query(f"{worker.url}/v1/orgs/{UID}/asset-counts")
    assert (status, body) == (
        200,
        [{"adamId": "408709785", "pricingParam": "STDQ", "count": -12, "baseline": None}],
    )


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/table/",
        "/table/asset_counts/",
        f"/table/asset_counts/{ROW_KEY}/",
        "/table/user_status/",
        "/table/tenant_urls/",
        "/router/",
        "/router/topics",
        "/router/asset_counts/",
        f"/router/asset_counts/{ROW_KEY}/",
        "/graph/",
        "/stats/",
        "/assignment/",
        "/performance/",
    ],
)
def test_faust_pages_are_not_served(worker: WorkerProcess, path: str) -> None:
    response = httpx.get(f"{worker.url}{path}", timeout=10)
    assert response.status_code == 404, response.text
    assert "408709785" not in response.text


def raw_get(port: int, path: str, header_lines: bytes) -> bytes:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
        + header_lines
        + b"\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("token", [b"a\xff", b"\xc3\x28", b"\xff\xfe", b"acme\x80token"])
def test_an_authorization_header_that_is_not_utf8_is_401(
    worker: WorkerProcess, token: bytes
) -> None:
    answer = raw_get(
        worker.port, f"/v1/orgs/{UID}/asset-counts", b"Authorization: Bearer " + token + b"\r\n"
    )
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    assert head.startswith("HTTP/1.1 401"), head
    assert 'WWW-Authenticate: Bearer realm="switchboard"' in head
    assert "Traceback" not in worker.tail(400)
