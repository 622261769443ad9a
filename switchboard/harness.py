"""Real stream workers and Kafka topic helpers, shared by the integration tests and bench/.

A `WorkerGroup` is one Faust app (its own topic prefix, consumer group, tenants file);
each `WorkerProcess` of it is `python -m streams` with its own data dir and web port,
started as a subprocess, waited on through GET /readyz (never a sleep), stopped with
SIGTERM then SIGKILL after a timeout. Callers stop every process in a finally.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from switchboard.localkafka import free_port
from switchboard.tenantsfile import write_tenants

REPO = Path(__file__).resolve().parents[1]
# The tokens of the throwaway tenants file a WorkerGroup writes: test data, not secrets.
TOKEN = "integration-token"  # noqa: S105
OTHER_TOKEN = "other-tenant-token"  # noqa: S105
Record = tuple[bytes | None, bytes, list[tuple[str, bytes]]]


def gateway_headers(source: str, received_at_ms: int | None = None) -> list[tuple[str, bytes]]:
    """The headers the gateway sets on raw-notifications (schemas.headers)."""
    at = received_at_ms if received_at_ms is not None else int(time.time() * 1000)
    return [
        ("tenant", b"integration"),
        ("source", source.encode()),
        ("received-at", str(at).encode()),
        ("request-id", uuid.uuid4().hex.encode()),
    ]


def worker_tenants(uids: Iterable[str], tenant_ids: Iterable[str]) -> dict[str, Any]:
    """The tenants file of a WorkerGroup: tenant "integration" (TOKEN) owns `uids` and
    `tenant_ids`; "other" (OTHER_TOKEN) owns only uId 0."""
    sha, other = (hashlib.sha256(t.encode()).hexdigest() for t in (TOKEN, OTHER_TOKEN))
    return {
        "tenants": [
            {
                "id": "integration",
                "token_sha256": [sha],
                "uids": sorted(uids),
                "tenant_ids": sorted(tenant_ids),
            },
            {"id": "other", "token_sha256": [other], "uids": ["0"]},
        ]
    }


@dataclass
class WorkerProcess:
    name: str
    env: dict[str, str]
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams"], cwd=REPO, env=self.env, stdout=log, stderr=log
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout}s: {self.tail()}")

    def ready(self) -> bool:
        """One GET /readyz; an exited process is an error, not "not ready"."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited {self.proc.returncode}: {self.tail()}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class WorkerGroup:
    """One app (prefix, group, tenants file) and its worker processes."""

    bootstrap: str
    home: Path
    uids: Sequence[str] = ()
    tenant_ids: Sequence[str] = ()
    partitions: int = 8
    extra_env: dict[str, str] = field(default_factory=dict)
    name: str = field(default_factory=lambda: f"it{uuid.uuid4().hex[:8]}")
    workers: list[WorkerProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.tenants_file = write_tenants(
            self.home / "tenants.yaml", worker_tenants(self.uids, self.tenant_ids)
        )

    def topic(self, name: str) -> str:
        return f"{self.name}.{name}"

    def add_worker(self) -> WorkerProcess:
        index, port = len(self.workers), free_port()
        env = {
            **os.environ,
            "SWITCHBOARD_KAFKA_BOOTSTRAP": self.bootstrap,
            "SWITCHBOARD_APP_ID": self.name,
            "SWITCHBOARD_TOPIC_PREFIX": f"{self.name}.",
            "SWITCHBOARD_PARTITIONS": str(self.partitions),
            "SWITCHBOARD_DATA_DIR": str(self.home / f"data-{index}"),
            "SWITCHBOARD_WEB_PORT": str(port),
            "SWITCHBOARD_TENANTS_FILE": str(self.tenants_file),
            "SWITCHBOARD_SESSION_TIMEOUT_S": "8",
            **self.extra_env,
        }
        worker = WorkerProcess(
            f"{self.name}-w{index}", env, port, self.home / f"worker-{index}.log"
        )
        self.workers.append(worker)
        return worker

    def start(self, count: int) -> list[WorkerProcess]:
        started = [self.add_worker() for _ in range(count)]
        for worker in started:
            worker.start()
        self.wait_ready()
        return started

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until every running worker is ready at the same time: a worker that joins the
        group after another was ready sends that one back into a rebalance and recovery."""
        running = [w for w in self.workers if w.proc is not None and w.proc.poll() is None]
        deadline = time.monotonic() + timeout
        while True:
            for worker in running:
                worker.wait_ready(max(deadline - time.monotonic(), 1.0))
            if all(worker.ready() for worker in running):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"workers not ready together after {timeout}s")

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    @contextmanager
    def running(self, count: int) -> Iterator[WorkerGroup]:
        """`count` workers started and ready together; every worker stopped on the way out."""
        try:
            self.start(count)
            yield self
        finally:
            self.stop()


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, records: Sequence[Record]) -> list[Any]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, v, key=k, headers=h) for k, v, h in records]
        return list(await asyncio.gather(*futures))
    finally:
        await producer.stop()


async def consume(
    bootstrap: str, topic: str, *, idle_s: float = 2.0, limit_s: float = 60.0, at_least: int = 0
) -> list[Any]:
    """Every record of `topic`, read until `at_least` arrived and then `idle_s` of silence."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    got: list[Any] = []
    try:
        deadline, idle_since = time.monotonic() + limit_s, time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            records = [r for part in batch.values() for r in part]
            got.extend(records)
            if records:
                idle_since = time.monotonic()
            elif len(got) >= at_least and time.monotonic() - idle_since >= idle_s:
                break
    finally:
        await consumer.stop()
    return got
