"""`switchboard bench`: the whole stack on this machine, measured, in one table.

Starts a single-broker Kafka (switchboard.localkafka, free ports, a temporary home), one
stream worker and one gateway, then offers each rate open loop for `duration_s` with
switchboard.loadgen: requests leave on schedule whether or not earlier ones were answered,
and latency runs from the scheduled time, so a slow gateway shows as latency rather than as
a lower offered rate. Every request is a distinct notification of switchboard.workload's mix
(app events with a fresh JWT each), rendered before the clock starts. Per rate: the rate
requests really left at, the most the generator fell behind its schedule, and requests
not sent because every connection was busy; gateway accepted/s, p50/p99; worker events/s
(first-seen events applied per second, from the phase start until the worker has caught
up); accept-to-queryable p50/p99 (a TEST_NOTIFICATION probe, from its 202 until GET
last-test shows it); peak RSS (VmHWM) per process.
`soak_minutes` then runs 70% of the best accepted rate and reports each process's resident
memory at the start and the end.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import random
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvloop

from switchboard import loadgen, localkafka
from switchboard.devstack import _spawn, _terminate, _wait_ready
from switchboard.progress import Phases
from switchboard.sender import Credentials, write_tenants_file
from switchboard.workload import Notification, Org, Workload, apple

AUD = "switchboard-bench"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of `values`; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table, columns right-aligned to their widest cell."""
    cells = [[str(h) for h in header]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def rss_mib(pid: int, field_name: str = "VmHWM") -> float:
    """Peak (VmHWM) or current (VmRSS) resident memory of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return math.nan


SEEN_LABEL = '{table="seen_notifications"}'
SEGMENT_S = 30.0  # app JWTs live 60 s: render at most this much load ahead of sending it


@dataclass
class Phase:
    rate: float
    segments: list[loadgen.Segment] = field(default_factory=list)  # the offered load, in order
    e2e: list[float] = field(default_factory=list)  # seconds, accept -> queryable
    events_per_s: float = math.nan
    probes_accepted: int = 0

    def total(self, name: str) -> float:
        return float(sum(getattr(segment, name) for segment in self.segments))

    @property
    def latencies(self) -> list[float]:  # seconds from the scheduled time, 2xx only
        return [x for segment in self.segments for x in segment.latencies]

    @property
    def accepted_per_s(self) -> float:
        # Over the time until the last answer: a gateway that falls behind stretches it.
        return self.total("accepted") / self.total("took")

    @property
    def refused(self) -> int:
        """Sent and not accepted: an error status, a dropped connection or no answer."""
        errors = sum(n for seg in self.segments for k, n in seg.statuses.items() if k >= 300)
        return errors + int(self.total("lost") + self.total("unanswered"))


@dataclass
class BenchStack:
    home: Path
    cluster: localkafka.Cluster
    worker: str  # base URLs
    gateway: str
    pids: dict[str, int]
    credentials: Credentials
    tenant_of: dict[str, str]
    probe_uid: str


def notification_stream(tenants: int, orgs: int, exclude: str) -> Iterator[Notification]:
    """Distinct notifications of the mix, endlessly (new ids per chunk), not for `exclude`."""
    for seed in itertools.count(1):
        for n in Workload.generate(tenants, orgs, 5_000, seed=seed).scripts.values():
            yield from (x for x in n if x.key != exclude)


async def _post(client: httpx.AsyncClient, s: BenchStack, n: Notification) -> httpx.Response:
    return await client.post(s.gateway + n.path, content=n.body, headers=_headers(s, n))


def _headers(s: BenchStack, n: Notification) -> dict[str, str]:
    # An app event's header is a fresh JWT (the gateway refuses a replayed jti).
    authorization = s.credentials.header(s.tenant_of[n.key], n.path)
    return {"Authorization": authorization, "Content-Type": "application/json"}


async def _probe(client: httpx.AsyncClient, s: BenchStack, p: Phase, until: float) -> None:
    """A TEST_NOTIFICATION every 0.25 s; time from its 202 until last-test shows it."""
    headers = {"Authorization": f"Bearer {s.credentials.tokens[s.tenant_of[s.probe_uid]]}"}
    url, rng = f"{s.worker}/v1/orgs/{s.probe_uid}/last-test", random.Random()
    while time.perf_counter() < until:
        n = apple("TEST_NOTIFICATION", s.probe_uid, {}, rng)
        if (await _post(client, s, n)).is_success:
            p.probes_accepted += 1
            accepted, deadline = time.perf_counter(), time.perf_counter() + 30
            while time.perf_counter() < deadline:
                r = await client.get(url, headers=headers)
                if r.status_code == 200 and r.json().get("notificationId") == n.id:
                    p.e2e.append(time.perf_counter() - accepted)
                    break
                await asyncio.sleep(0.005)
        await asyncio.sleep(0.25)


async def offer(
    s: BenchStack, source: Iterator[Notification], rate: float, seconds: float
) -> Phase:
    """Open loop at `rate`/s for `seconds`, with the end-to-end probe alongside.

    Requests are rendered (app JWTs signed) before the clock starts, SEGMENT_S of load at a
    time since the JWTs expire; a longer phase pauses between segments to render the next.
    """
    phase, gateway = Phase(rate), httpx.URL(s.gateway)
    pool = loadgen.Pool(gateway.host, gateway.port or 80, limit=512)
    async with httpx.AsyncClient(timeout=30) as client:
        try:
            left = seconds
            while left > 0:
                span, left = min(left, SEGMENT_S), left - SEGMENT_S
                sources = itertools.islice(source, math.ceil(rate * span))
                requests = [loadgen.render_post(n.path, n.body, _headers(s, n)) for n in sources]
                await pool.open(max(0, 64 - pool.count))
                until = time.perf_counter() + span
                probe = asyncio.create_task(_probe(client, s, phase, until))
                phase.segments.append(await loadgen.offer(pool, requests, rate, span))
                await probe
        finally:
            pool.close()
    return phase


def worker_metric(worker: str, name: str, labels: str = "") -> float:
    """The sum of a worker metric's samples whose line starts with `name` + `labels`."""
    text = httpx.get(f"{worker}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + labels)
    )


def worker_events(worker: str) -> float:
    """First-seen events the worker has applied (its switchboard_stream_events counter)."""
    return worker_metric(worker, "switchboard_stream_events_total")


def wait_events(worker: str, want: float, since: float, limit_s: float = 120) -> float:
    """Seconds from `since` until the worker has applied `want` events (NaN if never)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if worker_events(worker) >= want:
            return time.perf_counter() - since
        time.sleep(0.1)
    return math.nan


PROBE_UID = "2049025999999999"
PROCS: list[subprocess.Popen[bytes]] = []  # started by start_stack, stopped by run_bench


def every_org(tenants: int, orgs: int) -> Workload:
    """Both forms (uId and app tenantId) of every organization any seed may draw
    (switchboard.workload's key scheme), plus the probe's uId."""
    owned = []
    for t, o in itertools.product(range(tenants), range(orgs)):
        owned.append(Org(f"{2049025000000000 + t * 10000 + o}", f"tenant-{t}"))
        owned.append(Org(f"{31000 + t * 1000 + o}", f"tenant-{t}", app=True))
    return Workload([*owned, Org(PROBE_UID, "tenant-0")], {})


def start_stack(home: Path, tenants: int, orgs: int, phases: Phases) -> BenchStack:
    """Kafka, then the worker (it creates the topics), then the gateway; all ready."""
    with phases.phase("starting Kafka", "one broker; 10-30 s"):
        cluster = localkafka.create(
            home / "kafka", [localkafka.free_port()], [localkafka.free_port()]
        )
        localkafka.start_node(cluster, 1)
        localkafka.wait_ready(cluster, 180)
    orgs_all = every_org(tenants, orgs)
    credentials = write_tenants_file(home / "tenants.yaml", [orgs_all], AUD)
    web, port = localkafka.free_port(), localkafka.free_port()
    env = {
        **os.environ,
        "SWITCHBOARD_KAFKA_BOOTSTRAP": cluster.bootstrap,
        "SWITCHBOARD_TENANTS_FILE": str(home / "tenants.yaml"),
        "SWITCHBOARD_DATA_DIR": str(home / "worker-data"),
        "SWITCHBOARD_WEB_PORT": str(web),
        "SWITCHBOARD_PORT": str(port),
        # Tenants here offer thousands a second: above the gateway's default rate limit.
        "SWITCHBOARD_DEFAULT_RATE_LIMIT_PER_S": "1000000",
    }
    stack = BenchStack(
        home, cluster, f"http://127.0.0.1:{web}", f"http://127.0.0.1:{port}",
        {"kafka": cluster.nodes[0].pid or 0}, credentials,
        {o.key: o.tenant for o in orgs_all.orgs}, PROBE_UID,
    )  # fmt: skip
    for name, args, url, expect in (
        ("worker", ["worker"], stack.worker, "creates the topics; 10-40 s"),
        ("gateway", ["gateway", "--port", str(port)], stack.gateway, "a few seconds"),
    ):
        with phases.phase(f"starting the {name}", expect):
            log = home / f"{name}.log"
            proc = _spawn(args, env, log)
            stack.pids[name] = proc.pid
            PROCS.append(proc)
            _wait_ready(f"{url}/readyz", proc, log, 180)
    return stack


def measure(
    s: BenchStack,
    rates: Sequence[float],
    seconds: float,
    tenants: int,
    orgs: int,
    reporter: Phases,
) -> tuple[list[Phase], Iterator[Notification]]:
    source = notification_stream(tenants, orgs, s.probe_uid)
    phases = []
    for rate in rates:
        before = worker_events(s.worker)
        with reporter.phase(f"offering {rate:,.0f}/s for {seconds:g} s"):
            phase = uvloop.run(offer(s, source, rate, seconds))
        want = before + phase.total("accepted") + phase.probes_accepted
        with reporter.phase("waiting for the worker to apply what was accepted"):
            took = wait_events(s.worker, want, phase.segments[0].start)
        phase.events_per_s = (want - before) / took
        phases.append(phase)
    return phases, source


def report(s: BenchStack, phases: Sequence[Phase]) -> str:
    header = ["offered/s", "sent/s", "lag ms", "accepted/s", "p50 ms", "p99 ms", "refused",
              "not sent", "worker ev/s", "e2e p50 ms", "e2e p99 ms"]  # fmt: skip
    rows = [
        [
            p.rate, p.total("sent") / p.total("sending_s"),
            max(x.lag_s for x in p.segments) * 1000, p.accepted_per_s,
            percentile(p.latencies, 50) * 1000, percentile(p.latencies, 99) * 1000,
            p.refused, int(p.total("busy")), p.events_per_s,
            percentile(p.e2e, 50) * 1000, percentile(p.e2e, 99) * 1000,
        ]
        for p in phases
    ]  # fmt: skip
    peaks = ", ".join(f"{name} {rss_mib(pid):,.0f} MiB" for name, pid in s.pids.items())
    return f"{table(header, rows)}\npeak RSS: {peaks}"


def soak(
    s: BenchStack, source: Iterator[Notification], rate: float, minutes: float, every_s: float = 60
) -> str:
    """Offer `rate` for `minutes`; resident memory of each process and the worker's dedupe
    sightings every `every_s`, so growth that levels off past the dedupe window shows."""
    samples: list[list[object]] = []
    stop = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        while True:
            rss = [rss_mib(pid, "VmRSS") for pid in s.pids.values()]
            seen = worker_metric(s.worker, "switchboard_stream_table_keys", SEEN_LABEL)
            samples.append([round((time.monotonic() - started) / 60, 1), *rss, int(seen)])
            if stop.wait(every_s):
                return

    sampler = threading.Thread(target=sample, name="soak-sampler", daemon=True)
    sampler.start()
    try:
        phase = uvloop.run(offer(s, source, rate, minutes * 60))
    finally:
        stop.set()
        sampler.join()
    header = ["minute", *(f"{name} RSS MiB" for name in s.pids), "dedupe sightings"]
    growth = ", ".join(
        f"{name} {samples[0][i + 1]:,.0f} -> {samples[-1][i + 1]:,.0f} MiB"
        for i, name in enumerate(s.pids)
    )
    return (
        f"soak {minutes:g} min at {rate:,.0f}/s: accepted/s {phase.accepted_per_s:,.1f}, "
        f"p99 {percentile(phase.latencies, 99) * 1000:,.1f} ms, "
        f"not sent {phase.total('busy'):,.0f}; RSS {growth}\n" + table(header, samples)
    )


def run_bench(
    rates: Sequence[float],
    seconds: float,
    tenants: int,
    orgs: int,
    soak_minutes: float,
    reporter: Phases | None = None,
) -> str:
    """Start the stack, measure, stop everything; the figures as text. Each phase is
    announced on stderr (`reporter`) as it starts and ends: a full run takes minutes."""
    say = reporter or Phases()
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
        home = Path(tmp)
        try:
            stack = start_stack(home, tenants, orgs, say)
            phases, source = measure(stack, rates, seconds, tenants, orgs, say)
            text = report(stack, phases)
            if soak_minutes:
                best = max(p.accepted_per_s for p in phases)
                rate = 0.7 * best
                with say.phase(f"soak: {rate:,.0f}/s for {soak_minutes:g} min"):
                    text += "\n" + soak(stack, source, rate, soak_minutes)
        finally:
            with say.phase("stopping the gateway, the worker and Kafka"):
                for proc in reversed(PROCS):
                    _terminate(proc)
                PROCS.clear()
                localkafka.stop(home / "kafka")
    machine = f"{os.cpu_count()} CPUs, {tenants} tenants x {orgs} orgs, {seconds:g} s per rate"
    return f"{machine}\n{text}"
