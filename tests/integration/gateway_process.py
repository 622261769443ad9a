"""`switchboard gateway` as a real process on a free port, for integration tests.

Started with its own tenants file (tests.unit.gateway.support) and environment, waited on
through /healthz or /readyz (never a sleep), killed in `stop`. `rss_kib` reads its
resident memory from /proc, `lines` its log lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from switchboard.localkafka import REPO_ROOT, free_port


@dataclass
class GatewayServer:
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "switchboard", "gateway", "--port", str(self.port)],
                cwd=REPO_ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def status(self, path: str) -> int | None:
        """The status of one GET, None if nothing answers; an exited process fails."""
        assert self.proc is not None
        assert self.proc.poll() is None, f"the gateway exited:\n{self.log()}"
        try:
            return httpx.get(f"{self.url}{path}", timeout=2).status_code
        except httpx.TransportError:
            return None

    def wait_status(self, path: str, want: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.status(path) != want:
            assert time.monotonic() < deadline, f"{path} not {want} in {timeout}s:\n{self.log()}"
            time.sleep(0.1)

    def rss_kib(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def lines(self, logger: str | None = None) -> list[dict[str, Any]]:
        """Every line written so far (JSON, schemas.logformat), or only `logger`'s."""
        lines = [json.loads(line) for line in self.log_path.read_text().splitlines()]
        return [line for line in lines if logger is None or line["logger"] == logger]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextmanager
def ready_gateway(env: dict[str, str], log_path: Path) -> Iterator[GatewayServer]:
    """A started gateway, once /readyz says 200; stopped on the way out."""
    server = GatewayServer(env, log_path)
    server.start()
    try:
        server.wait_status("/readyz", 200)
        yield server
    finally:
        server.stop()
