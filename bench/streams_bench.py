"""Benchmark of one stream worker against a real Kafka (not a test: it reports figures).

    SWITCHBOARD_KAFKA_BOOTSTRAP=127.0.0.1:19092 .venv/bin/python bench/streams_bench.py

0. The floor (--floor, default on): bench/faust_floor.py on the same broker, same record
   count, just before: what Faust's own per-message path allows one process here.
1. Throughput: a backlog of --records raw notifications (a realistic mix of every type,
   10% of them repeats) is produced first, then one worker starts; events/s is measured
   from readiness until the worker's counters account for every record. Then every
   output topic is read back: each distinct notification of the backlog must be there
   exactly once (by its source offset): `lost` and `repeated` must both be 0.
   The worker's CPU per event (all its threads) is printed beside the floor's, and
   `floor_over_worker_cpu` is their ratio: on a busy machine it moves less than the
   ratio of events/s (`worker_over_floor`).
2. End-to-end latency at --rate events/s (default 5,000, half the 10,000/s target): while
   that mix flows, a probe sends a TEST_NOTIFICATION with a fresh id every 20 ms to a
   probe organization and polls GET /v1/orgs/<probe>/last-test until it shows that id.
   The clock starts when the broker acknowledged the record (acks=all), as the gateway's
   202 would, and stops when the query answers it: produce-to-raw-topic -> visible.
3. A large organization (--large, default on): one uId receives 1,000 ASSET_MANAGEMENT
   ASSOCIATEs of 100 serial numbers each for one asset (100,000 assignments). The worker's
   CPU per event is measured on the first 10 (the organization holds up to 1,000
   assignments) and on the last 10 (99,000 to 100,000): equal if the cost of an event does
   not grow with the organization. Also events/s over all 1,000 and the worker's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import cast

import httpx
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from schemas import headers as h
from schemas.topics import CONFLICTS, DEAD_LETTER, PER_TYPE_TOPICS
from switchboard.harness import (
    TOKEN,
    WorkerGroup,
    consume,
    create_topic,
    gateway_headers,
)

PROBE_UID = "9000000000000001"
PROBE_LIMIT_S = 30.0  # a probe not visible by then counts as 30 s
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def notification(rng: random.Random, uids: list[str], tenants: list[str]) -> tuple[str, str, bytes]:
    """(key, source, body) of one random notification of the mix."""
    kind = rng.choices(
        ["count", "assign", "user", "associated", "test", "app", "unknown"],
        weights=[55, 15, 10, 5, 5, 5, 5],
    )[0]
    if kind == "app":
        tenant = rng.choice(tenants)
        body = {
            "eventId": str(uuid.uuid4()),
            "eventType": "TENANT_REST_URL_CHANGE",
            "data": {
                "notificationType": "TENANT_REST_URL_CHANGE",
                "notificationData": {
                    "tenantId": tenant,
                    "tenantRestUrl": f"https://t{rng.randint(1, 99)}.example/api",
                    "productUuid": str(uuid.uuid4()),
                },
            },
        }
        return tenant, "app", json.dumps(body).encode()
    uid, adam = rng.choice(uids), str(rng.randint(1, 50))
    inner: dict[str, object]
    if kind == "count":
        ntype, inner = (
            "ASSET_COUNT",
            {"adamId": adam, "countDelta": rng.randint(-5, 20), "pricingParam": "STDQ"},
        )
    elif kind == "assign":
        ntype, inner = (
            "ASSET_MANAGEMENT",
            {
                "assignments": [
                    {"adamId": adam, "pricingParam": "STDQ", "serialNumber": str(uuid.uuid4())}
                    for _ in range(rng.randint(1, 3))
                ],
                "eventId": str(uuid.uuid4()),
                "result": "SUCCESS",
                "type": rng.choice(["ASSOCIATE", "ASSOCIATE", "DISASSOCIATE", "REVOKE"]),
            },
        )
    elif kind in ("user", "associated"):
        user = {
            "clientUserId": f"client-{rng.randint(1, 500)}",
            "email": "u@example.com",
            "inviteCode": uuid.uuid4().hex,
            "status": "Registered",
        }
        ntype = "USER_MANAGEMENT" if kind == "user" else "USER_ASSOCIATED"
        inner = (
            {"eventId": str(uuid.uuid4()), "result": "SUCCESS", "type": "UPDATE", "users": [user]}
            if kind == "user"
            else {"associatedUsers": [{**user, "status": "Associated", "idHash": "h"}]}
        )
    elif kind == "test":
        ntype, inner = "TEST_NOTIFICATION", {}
    else:
        ntype, inner = "SUBSCRIPTION_COUNT", {"count": rng.randint(1, 9)}
    body = {
        "notification": inner,
        "notificationId": str(uuid.uuid4()),
        "notificationType": ntype,
        "uId": uid,
    }
    return uid, "apple", json.dumps(body).encode()


def mix(count: int, seed: int = 7, repeat_ratio: float = 0.10) -> list[tuple[str, str, bytes]]:
    rng = random.Random(seed)
    uids = [str(2049025000000000 + i) for i in range(1000)]
    tenants = [str(300000 + i) for i in range(200)]
    out: list[tuple[str, str, bytes]] = []
    for _ in range(count):
        if out and rng.random() < repeat_ratio:
            out.append(rng.choice(out[-1000:]))  # Apple's retries: the same bytes again
        else:
            out.append(notification(rng, uids, tenants))
    return out


def to_record(key: str, source: str, body: bytes) -> Record:
    return key.encode(), body, gateway_headers(source)


async def produce_backlog(bootstrap: str, topic: str, items: list[tuple[str, str, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    try:
        for start in range(0, len(items), 5000):
            futures = [
                await producer.send(topic, v, key=k, headers=h)
                for k, v, h in (to_record(*item) for item in items[start : start + 5000])
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


def processed(url: str) -> int:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        name = line.split("{")[0].split(" ")[0]
        if name in (
            "switchboard_stream_events_total",
            "switchboard_stream_duplicates_total",
            "switchboard_stream_conflicts_total",
            "switchboard_stream_dead_letters_total",
            "switchboard_stream_replays_total",
        ):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ns(pid: int, thread: int | None = None) -> int:
    """CPU time in ns of a process's threads, or of one (schedstat: finer than ticks)."""
    tasks = [Path(f"/proc/{pid}/task/{thread}")] if thread else Path(f"/proc/{pid}/task").iterdir()
    return sum(int((task / "schedstat").read_text().split()[0]) for task in tasks)


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


LARGE_UID, LARGE_NOTIFICATIONS, LARGE_WINDOW = "2049025999999999", 1000, 20


def large_organization(rng: random.Random) -> list[tuple[str, str, bytes]]:
    items = []
    for _ in range(LARGE_NOTIFICATIONS):
        serials = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(100)]
        body = {
            "notification": {
                "assignments": [
                    {"adamId": "1", "pricingParam": "STDQ", "serialNumber": s} for s in serials
                ],
                "eventId": str(uuid.uuid4()),
                "result": "SUCCESS",
                "type": "ASSOCIATE",
            },
            "notificationId": str(uuid.uuid4()),
            "notificationType": "ASSET_MANAGEMENT",
            "uId": LARGE_UID,
        }
        items.append((LARGE_UID, "apple", json.dumps(body).encode()))
    return items


def measure_large_organization(
    bootstrap: str, topic: str, url: str, pid: int, done: int
) -> dict[str, float]:
    """Produce the large organization's notifications in three steps, timing each."""
    items = large_organization(random.Random(13))
    steps = {
        "first": items[:LARGE_WINDOW],
        "bulk": items[LARGE_WINDOW:-LARGE_WINDOW],
        "last": items[-LARGE_WINDOW:],
    }
    result: dict[str, float] = {}
    wall_s = 0.0
    for name, step in steps.items():
        cpu, loop_cpu, started = cpu_ns(pid), cpu_ns(pid, pid), time.monotonic()
        asyncio.run(produce_backlog(bootstrap, topic, step))
        done += len(step)
        wait_processed(url, done)
        wall_s += time.monotonic() - started
        result[f"cpu_us_per_event_{name}"] = round((cpu_ns(pid) - cpu) / len(step) / 1000)
        result[f"loop_us_{name}"] = round((cpu_ns(pid, pid) - loop_cpu) / len(step) / 1000)
    held = LARGE_NOTIFICATIONS * 100
    return {
        "assignments": held,
        "events_per_s": round(len(items) / wall_s),
        "cpu_us_per_event_at_1000": result["cpu_us_per_event_first"],
        "cpu_us_per_event_at_100000": result["cpu_us_per_event_last"],
        "loop_thread_us_per_event_at_1000": result["loop_us_first"],
        "loop_thread_us_per_event_at_100000": result["loop_us_last"],
        "peak_rss_mib": peak_rss_mib(pid),
    }


def measure_throughput(url: str, expected: int, ready_at: float, pid: int) -> dict[str, float]:
    marks: dict[float, float] = {}
    cpu_start = cpu_seconds(pid)
    while True:
        done = processed(url)
        now = time.monotonic()
        for fraction in (0.1, 0.9):
            if fraction not in marks and done >= expected * fraction:
                marks[fraction] = now
        if done >= expected:
            break
        time.sleep(0.25)
    total_s, cpu_s = now - ready_at, cpu_seconds(pid) - cpu_start
    steady = (0.8 * expected) / (marks[0.9] - marks[0.1]) if marks[0.9] > marks[0.1] else 0.0
    return {
        "records": expected,
        "seconds": round(total_s, 2),
        "events_per_s": round(expected / total_s),
        "steady_events_per_s": round(steady),
        "worker_cpu_us_per_event": round(cpu_s / expected * 1e6),
    }


async def load(
    bootstrap: str, topic: str, items: list[tuple[str, str, bytes]], rate: int, stop: asyncio.Event
) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    sent, tick, start = 0, 0.01, time.monotonic()
    try:
        while not stop.is_set():
            due = int((time.monotonic() - start) * rate)
            while sent < due:
                key, value, headers = to_record(*items[sent % len(items)])
                await producer.send(topic, value, key=key, headers=headers)
                sent += 1
            await asyncio.sleep(tick)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def probe(bootstrap: str, topic: str, url: str, duration_s: float) -> list[float]:
    """Latencies of TEST_NOTIFICATIONs sent one at a time: broker ack -> visible in a query."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=5) as client:
        try:
            end = time.monotonic() + duration_s
            while time.monotonic() < end:
                nid = str(uuid.uuid4())
                body = {
                    "notification": {},
                    "notificationId": nid,
                    "uId": PROBE_UID,
                    "notificationType": "TEST_NOTIFICATION",
                }
                await producer.send_and_wait(
                    topic,
                    json.dumps(body).encode(),
                    key=PROBE_UID.encode(),
                    headers=gateway_headers("apple"),
                )
                acked = time.monotonic()
                while time.monotonic() - acked < PROBE_LIMIT_S:
                    answer = await client.get(f"/v1/orgs/{PROBE_UID}/last-test")
                    if answer.status_code == 200 and answer.json()["notificationId"] == nid:
                        break
                    await asyncio.sleep(0.002)
                latencies.append(time.monotonic() - acked)
                await asyncio.sleep(0.02)
        finally:
            await producer.stop()
    return latencies


async def measure_latency(
    bootstrap: str, topic: str, url: str, rate: int, duration_s: float
) -> dict[str, float]:
    items, stop = mix(50_000, seed=11), asyncio.Event()
    loader = asyncio.create_task(load(bootstrap, topic, items, rate, stop))
    await asyncio.sleep(2)  # let the load settle first
    started = time.monotonic()
    latencies = await probe(bootstrap, topic, url, duration_s)
    stop.set()
    sent = await loader
    ms = sorted(x * 1000 for x in latencies)
    return {
        "rate_target": rate,
        "rate_sent": round(sent / (time.monotonic() - started + 2)),
        "samples": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(ms[min(len(ms) - 1, math.ceil(len(ms) * 0.99) - 1)], 1),
        "max_ms": round(ms[-1], 1),
        "records": sent + len(ms),
    }


def floor(bootstrap: str, records: int) -> dict[str, object]:
    """bench/faust_floor.py's figures, run now on the same broker."""
    script = Path(__file__).with_name("faust_floor.py")
    command = [sys.executable, str(script), "--bootstrap", bootstrap, "--records", str(records)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=1800)
    figures: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def outputs_check(
    bootstrap: str, group: WorkerGroup, items: list[tuple[str, str, bytes]]
) -> dict[str, int]:
    """Each distinct notification of the backlog on the outputs once: lost, repeated."""
    distinct = len(set(items))  # a repeat is the same bytes again (mix)
    names = [*PER_TYPE_TOPICS, DEAD_LETTER, CONFLICTS]
    positions: list[tuple[int, bytes]] = []
    for name in names:
        records = asyncio.run(consume(bootstrap, group.topic(name), idle_s=3.0, limit_s=300))
        for record in records:
            offset = dict(record.headers).get(h.SOURCE_OFFSET, b"")
            positions.append((record.partition, offset))
    unique = len(set(positions))
    return {
        "distinct": distinct,
        "outputs": len(positions),
        "lost": distinct - unique,
        "repeated": len(positions) - unique,
    }


def wait_processed(url: str, expected: int, limit_s: float = 600) -> None:
    deadline = time.monotonic() + limit_s
    while processed(url) < expected and time.monotonic() < deadline:
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rates", default="5000", help="Comma-separated latency-phase rates.")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--large", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--floor", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--check", action=argparse.BooleanOptionalAction, default=True,
                        help="Read the outputs back: 0 lost, 0 repeated.")  # fmt: skip
    args = parser.parse_args()
    bootstrap = os.environ.get("SWITCHBOARD_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    uids = [str(2049025000000000 + i) for i in range(1000)] + [PROBE_UID, LARGE_UID]
    group = WorkerGroup(
        bootstrap,
        Path(tempfile.mkdtemp(prefix="streams-bench-")),
        uids=uids,
        tenant_ids=[str(300000 + i) for i in range(200)],
    )
    result: dict[str, object] = {}
    if args.floor:
        result["floor"] = floor(bootstrap, args.records)
    topic = group.topic("raw-notifications")
    asyncio.run(create_topic(bootstrap, topic, group.partitions))
    backlog = mix(args.records)
    asyncio.run(produce_backlog(bootstrap, topic, backlog))
    worker = group.add_worker()
    try:
        worker.start()
        worker.wait_ready()
        pid = worker.proc.pid if worker.proc else 0
        throughput = measure_throughput(worker.url, args.records, time.monotonic(), pid)
        result["throughput"] = throughput
        if "floor" in result:
            floor_figures = cast(dict[str, float], result["floor"])
            floor_rate = floor_figures["events/s"]
            throughput["worker_over_floor"] = round(throughput["events_per_s"] / floor_rate, 2)
            # The same ratio from CPU time, which a busy machine disturbs less than
            # wall-clock time: floor CPU per event over worker CPU per event.
            floor_cpu = floor_figures["cpu_us_per_event"]
            throughput["floor_cpu_us_per_event"] = floor_cpu
            throughput["floor_over_worker_cpu"] = round(
                floor_cpu / throughput["worker_cpu_us_per_event"], 2
            )
        if args.check:
            result["outputs"] = outputs_check(bootstrap, group, backlog)
        expected, phases = args.records, []
        for rate in (int(r) for r in args.rates.split(",") if r):
            phase = asyncio.run(measure_latency(bootstrap, topic, worker.url, rate, args.duration))
            expected += int(phase.pop("records"))
            wait_processed(worker.url, expected)  # drain any backlog before the next rate
            phases.append(phase)
        result["latency"] = phases
        if args.large:
            result["large_organization"] = measure_large_organization(
                bootstrap, topic, worker.url, pid, processed(worker.url)
            )
        print(json.dumps(result, indent=2))
    finally:
        group.stop()


if __name__ == "__main__":
    main()
