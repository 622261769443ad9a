"""Open-loop load on one gateway process: accepted/s, p50, p99 and peak RSS per offered rate.

    .venv/bin/python bench/gateway_bench.py --bootstrap 127.0.0.1:9092 --rates 3500,5000

Starts `switchboard gateway` (one process) against the given Kafka with a tenants file of
its own and a fresh topic, then offers each rate for --duration seconds after --warmup
seconds with switchboard.loadgen: requests leave on schedule whether or not earlier ones
were answered (open loop), over keep-alive HTTP/1.1 connections; latency runs from the
scheduled send time, so a slow gateway shows up as latency, not as a lower offered rate.
The mix is switchboard.workload's (Apple types, app events each with a fresh HS256 JWT, test
notifications, an unmodelled type) plus --bad-share refused requests (401 and 422).

--shared-state starts a redis-server (no persistence) for the run and points the gateway
at it (SWITCHBOARD_SHARED_STATE_URL): every request then costs one round trip to it
(the rate limit, and the replay key of a JWT); --shared-state-url uses a store you run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import uvloop
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from schemas.tenants import token_sha256  # noqa: E402
from switchboard.loadgen import Pool, offer, render_post  # noqa: E402
from switchboard.localkafka import free_port  # noqa: E402
from switchboard.tenantsfile import write_tenants  # noqa: E402
from switchboard.workload import APP_PATH, Workload  # noqa: E402

AUD = "bench-provider"


@dataclass
class Setup:
    workload: Workload
    tokens: dict[str, str]  # tenant -> bearer token
    secrets: dict[str, str]  # tenant -> HS256 secret of its app issuer
    tenants_file: Path


def make_setup(directory: Path, tenants: int, orgs: int) -> Setup:
    workload = Workload.generate(tenants, orgs, notifications=20_000)
    tokens = {t: f"bench-token-{t}-{uuid.uuid4().hex}" for t in workload.tenants}
    secrets = {t: f"bench-secret-{t}-{uuid.uuid4().hex}" for t in workload.tenants}
    config = {
        "tenants": [
            # A rate above what the bench offers (the default, 100/s, is below it); the
            # buckets are still charged on every request.
            {"id": t, "token_sha256": [token_sha256(tokens[t])], "uids": workload.uids(t),
             "rate_limit_per_s": 1_000_000}
            for t in workload.tenants
        ],
        "app_issuers": [
            {"iss": f"iss-{t}", "aud": AUD, "tenant": t, "secrets": [secrets[t]],
             "tenant_ids": workload.tenant_ids(t)}
            for t in workload.tenants
        ],
    }  # fmt: skip
    path = write_tenants(directory / "tenants.yaml", config)
    return Setup(workload, tokens, secrets, path)


def requests_for(setup: Setup, count: int, bad_share: float, rng: random.Random) -> list[bytes]:
    """`count` rendered requests in the workload's proportions."""
    owner = {o.key: o.tenant for o in setup.workload.orgs}
    pool = [n for script in setup.workload.scripts.values() for n in script]
    rng.shuffle(pool)
    now, rendered = int(time.time()), []
    for i in range(count):
        n = pool[i % len(pool)]
        tenant, body = owner[n.key], n.body
        token = setup.tokens[tenant]
        if n.path == APP_PATH:
            claims = {"iss": f"iss-{tenant}", "aud": AUD, "iat": now, "exp": now + 60,
                      "jti": str(uuid.uuid4()), "sub": None}  # fmt: skip
            token = jwt.encode(claims, setup.secrets[tenant], algorithm="HS256")
        if rng.random() < bad_share:
            if rng.random() < 0.5:
                token = "not-a-valid-token"  # noqa: S105
            else:
                body = body.replace(b'"notificationId"', b'"notificationID"', 1)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        rendered.append(render_post(n.path, body, headers, host="gateway"))
    return rendered


def memory(pid: int, field_name: str) -> int:
    """VmRSS (now) or VmHWM (peak) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) // 1024
    raise KeyError(field_name)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1) if values else -1


async def drive(args: argparse.Namespace, setup: Setup, pid: int) -> None:
    pool, rng = Pool("127.0.0.1", args.port, args.connections), random.Random(1)
    await pool.open(min(64, args.connections))
    for rate in args.rates:
        count = int(rate * (args.warmup + args.duration)) + 1
        requests = requests_for(setup, count, args.bad_share, rng)
        await offer(pool, requests, rate, args.warmup)
        cpu, wall = cpu_seconds(pid), time.perf_counter()
        phase = await offer(pool, requests[int(rate * args.warmup) :], rate, args.duration)
        cpu = (cpu_seconds(pid) - cpu) / (time.perf_counter() - wall)
        row = {
            "offered/s": rate,
            # Answered while offering: a gateway that falls behind does not get credit
            # for the backlog it clears after the offering stops.
            "accepted/s": round((phase.accepted - phase.late) / args.duration),
            "accepted late": phase.late,
            "p50 ms": percentile_ms(phase.latencies, 0.50),
            "p99 ms": percentile_ms(phase.latencies, 0.99),
            "max ms": percentile_ms(phase.latencies, 1.0),
            "answers": dict(sorted(phase.statuses.items())),
            "connections lost": phase.lost,
            "unanswered": phase.unanswered,
            "not sent (connections busy)": phase.busy,
            "gateway CPU": f"{cpu:.0%}",
            "gateway RSS MiB": memory(pid, "VmRSS"),
            "connections": pool.count,
            "load avg": os.getloadavg()[0],
        }
        print(json.dumps(row), flush=True)
        await asyncio.sleep(args.pause)
    pool.close()


@contextlib.contextmanager
def shared_state(args: argparse.Namespace, directory: Path) -> Iterator[str | None]:
    """The store's URL for the gateway: given, started here for the run, or None."""
    if args.shared_state_url or not args.shared_state:
        yield args.shared_state_url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("--shared-state needs redis-server (make redis)")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(directory)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                             check=False).stdout.strip() != b"PONG":  # fmt: skip
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.kill()
        server.wait(10)


def start_gateway(
    args: argparse.Namespace, setup: Setup, topic: str, log: Path, store: str | None
) -> Any:
    env = {**os.environ, "SWITCHBOARD_KAFKA_BOOTSTRAP": args.bootstrap,
           "SWITCHBOARD_TENANTS_FILE": str(setup.tenants_file), "SWITCHBOARD_RAW_TOPIC": topic,
           "SWITCHBOARD_LOG_LEVEL": "warning"}  # fmt: skip
    if store:
        env["SWITCHBOARD_SHARED_STATE_URL"] = store
    command = [sys.executable, "-m", "switchboard", "gateway", "--port", str(args.port)]
    if args.floor:
        command = [sys.executable, str(REPO / "bench" / "asgi_floor.py"), str(args.port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{args.port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the gateway did not become ready:\n{log.read_text()}")


async def topic_admin(bootstrap: str, topic: str, partitions: int | None) -> None:
    """Create the topic with `partitions`, or delete it when None."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if partitions:
            await admin.create_topics([NewTopic(topic, partitions, 1)])
        else:
            await admin.delete_topics([topic])
    finally:
        await admin.close()


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    default_bootstrap = os.environ.get("SWITCHBOARD_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    cli.add_argument("--bootstrap", default=default_bootstrap)
    rates = lambda text: [float(r) for r in text.split(",")]  # noqa: E731
    cli.add_argument("--rates", type=rates, default=[3500.0, 5000.0], help="requests/s, a,b,c")
    cli.add_argument("--duration", type=float, default=15, help="measured seconds per rate")
    cli.add_argument("--warmup", type=float, default=3, help="unmeasured seconds before each")
    cli.add_argument("--pause", type=float, default=2)
    cli.add_argument("--tenants", type=int, default=20)
    cli.add_argument("--orgs", type=int, default=50, help="organizations per tenant")
    cli.add_argument("--partitions", type=int, default=6, help="of the raw topic")
    cli.add_argument("--connections", type=int, default=512, help="at most")
    cli.add_argument("--bad-share", type=float, default=0.02)
    cli.add_argument("--port", type=int, default=0)
    floor = "drive bench/asgi_floor.py (uvicorn, an app that does nothing) instead"
    cli.add_argument("--floor", action="store_true", help=floor)
    shared = "start a redis-server and give the gateway its replay memory and rate limits"
    cli.add_argument("--shared-state", action="store_true", help=shared)
    cli.add_argument("--shared-state-url", help="redis://... of a store to use instead")
    args = cli.parse_args()
    args.port = args.port or free_port()
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp, shared_state(args, Path(tmp)) as store:
        setup = make_setup(Path(tmp), args.tenants, args.orgs)
        asyncio.run(topic_admin(args.bootstrap, topic, args.partitions))
        gateway = start_gateway(args, setup, topic, Path(tmp) / "gateway.log", store)
        try:
            uvloop.run(drive(args, setup, gateway.pid))
            print(json.dumps({"gateway peak RSS MiB": memory(gateway.pid, "VmHWM"),
                              "cpus": os.cpu_count(), "shared state": bool(store)}))  # fmt: skip
        finally:
            gateway.send_signal(signal.SIGTERM)
            gateway.wait(30)
            asyncio.run(topic_admin(args.bootstrap, topic, None))


if __name__ == "__main__":
    main()
