"""A sender that behaves like Apple's notification service, for load and fault tests.

Organizations are worked in parallel; within one organization notifications are sent one
after another, each retried on any non-2xx answer or connection error until it is accepted,
so the order in which the gateway accepted them is the order the oracle applies them in.
Apple repeats deliveries (up to 3 within 1-5 minutes): after a notification is accepted,
`repeats` more copies are sent later, after `gap_s` (minutes in real life, seconds here).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt

from schemas.tenants import token_sha256
from switchboard.tenantsfile import write_tenants
from switchboard.workload import APP_PATH, Notification, Workload


@dataclass
class Credentials:
    """Bearer tokens per tenant, and per tenant the app issuer (iss, HS256 secret) that signs
    its app notifications: an issuer belongs to exactly one tenant in the tenants file."""

    tokens: dict[str, str]
    app_issuers: dict[str, tuple[str, str]] = field(default_factory=dict)
    app_aud: str = "switchboard"

    def header(self, tenant: str, path: str) -> str:
        if path != APP_PATH:
            return f"Bearer {self.tokens[tenant]}"
        iss, secret = self.app_issuers[tenant]
        now = int(time.time())
        claims = {
            "iss": iss,
            "sub": None,
            "aud": self.app_aud,
            "iat": now,
            "exp": now + 60,
            "jti": str(uuid.uuid4()),  # a fresh JWT per request: the gateway refuses replays
        }
        return "Bearer " + jwt.encode(claims, secret, algorithm="HS256")


def write_tenants_file(path: Path, workloads: Sequence[Workload], aud: str) -> Credentials:
    """A tenants file owning every organization of `workloads`: per tenant a fresh bearer
    token and an app issuer with a fresh HS256 secret. Returns the credentials to send with."""
    names = sorted({t for w in workloads for t in w.tenants})
    tokens = {t: f"sim-token-{t}-{uuid.uuid4().hex}" for t in names}
    issuers = {t: (f"iss-{t}", f"sim-secret-{t}-{uuid.uuid4().hex}") for t in names}
    config = {
        "tenants": [
            {
                "id": t,
                "token_sha256": [token_sha256(tokens[t])],
                "uids": sorted({u for w in workloads for u in w.uids(t)}),
                "tenant_ids": sorted({i for w in workloads for i in w.tenant_ids(t)}),
            }
            for t in names
        ],
        "app_issuers": [
            {"iss": issuers[t][0], "aud": aud, "tenant": t, "secrets": [issuers[t][1]]}
            for t in names
        ],
    }
    write_tenants(path, config)
    return Credentials(tokens, issuers, aud)


@dataclass
class SendReport:
    offered: int = 0  # distinct notifications in the workload
    deliveries: int = 0  # HTTP requests made, repeats and retries included
    accepted: list[Notification] = field(default_factory=list)  # first 2xx, in order per org
    repeats_accepted: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # status code or exception name
    latencies_ms: list[float] = field(default_factory=list)  # every answer, 2xx or not
    # Non-2xx answers and failed requests: (status or exception name, seconds, monotonic end).
    refusals: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Deliveries that got no 2xx: an error status or no answer at all."""
        return sum(n for s, n in self.statuses.items() if not s.startswith("2"))

    @property
    def refused_for_s(self) -> float:
        """From the first refused delivery to the last: how long senders saw errors."""
        ends = [end for _, _, end in self.refusals]
        return max(ends) - min(ends) if ends else 0.0

    def line(self) -> str:
        return (
            f"offered={self.offered} deliveries={self.deliveries} "
            f"accepted={len(self.accepted)} repeats_accepted={self.repeats_accepted} "
            f"rejected={self.rejected} statuses={dict(sorted(self.statuses.items()))}"
        )


class Sender:
    """`interval_s` paces each organization (a pause after each accepted notification), so a
    run lasts long enough to inject faults into; 0 sends as fast as the gateway answers."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        tenant_of: Callable[[str], str],
        repeats: tuple[int, int] = (0, 2),
        gap_s: float = 1.0,
        retry_s: float = 0.5,
        give_up_s: float = 300.0,
        concurrency: int = 64,
        interval_s: float = 0.0,
        seed: int = 11,
    ) -> None:
        self.base_url = base_url
        self.credentials = credentials
        self.tenant_of = tenant_of
        self.repeats = repeats
        self.gap_s = gap_s
        self.retry_s = retry_s
        self.give_up_s = give_up_s
        self.interval_s = interval_s
        self.rng = random.Random(seed)
        self.slots = asyncio.Semaphore(concurrency)
        self.report = SendReport()
        self.repeat_tasks: set[asyncio.Task[None]] = set()

    async def run(self, workload: Workload) -> SendReport:
        self.report.offered = len(workload)
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        async with httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=10) as client:
            try:
                await asyncio.gather(*(self._org(client, s) for s in workload.scripts.values()))
                await asyncio.gather(*self.repeat_tasks)
            finally:
                for task in self.repeat_tasks:
                    task.cancel()
        return self.report

    async def _org(self, client: httpx.AsyncClient, script: list[Notification]) -> None:
        for notification in script:
            await self._until_accepted(client, notification)
            for i in range(self.rng.randint(*self.repeats)):
                task = asyncio.create_task(self._repeat(client, notification, i + 1))
                self.repeat_tasks.add(task)
            if self.interval_s:
                await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.interval_s)

    async def _until_accepted(self, client: httpx.AsyncClient, n: Notification) -> None:
        deadline = time.monotonic() + self.give_up_s
        while True:
            if await self._deliver(client, n):
                self.report.accepted.append(n)
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{n.type} {n.id} not accepted within {self.give_up_s}s")
            await asyncio.sleep(self.retry_s)

    async def _repeat(self, client: httpx.AsyncClient, n: Notification, nth: int) -> None:
        # Apple's repeats are deliveries of their own: sent once each, whatever the answer.
        await asyncio.sleep(self.gap_s * nth)
        if await self._deliver(client, n):
            self.report.repeats_accepted += 1

    async def _deliver(self, client: httpx.AsyncClient, n: Notification) -> bool:
        headers = {
            "Authorization": self.credentials.header(self.tenant_of(n.key), n.path),
            "Content-Type": "application/json",
        }
        async with self.slots:
            self.report.deliveries += 1
            started = time.perf_counter()
            try:
                response = await client.post(n.path, content=n.body, headers=headers)
            except httpx.HTTPError as exc:
                failed = type(exc).__name__
                self.report.statuses[failed] += 1
                elapsed = time.perf_counter() - started
                self.report.refusals.append((failed, elapsed, time.monotonic()))
                return False
            seconds = time.perf_counter() - started
        self.report.latencies_ms.append(seconds * 1000)
        status = str(response.status_code)
        self.report.statuses[status] += 1
        if not response.is_success:
            self.report.refusals.append((status, seconds, time.monotonic()))
        return response.is_success
