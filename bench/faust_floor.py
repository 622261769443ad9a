"""The floor under the stream worker: a Faust agent that does nothing with its events.

    .venv/bin/python bench/faust_floor.py --bootstrap 127.0.0.1:9092 --records 200000

Produces --records small records (a gateway-like key, ~300-byte value, the gateway's
headers) to a fresh topic of --partitions partitions, then starts one Faust worker with
the stream worker's transport settings (uvloop, aiokafka, at-least-once, memory store, no
tables) whose agent only counts `stream.events()`. The agent times the first to the last
event and the worker exits; the figure is what Faust's per-message path alone allows one
process here, to read the worker's events/s against (bench/streams_bench.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from switchboard.harness import create_topic, gateway_headers

VALUE = json.dumps(
    {
        "notification": {"adamId": "408709785", "countDelta": -12, "pricingParam": "STDQ"},
        "notificationId": "00000000-0000-0000-0000-000000000000",
        "notificationType": "ASSET_COUNT",
        "uId": "2049025000431439",
        "padding": "x" * 120,
    }
).encode()


async def backlog(bootstrap: str, topic: str, records: int, partitions: int) -> None:
    await create_topic(bootstrap, topic, partitions)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()
    try:
        headers = gateway_headers("apple")
        for i in range(records):
            await producer.send(topic, VALUE, key=str(2049025000000000 + i % 5000).encode(),
                                headers=headers)  # fmt: skip
        await producer.flush()
    finally:
        await producer.stop()


def worker(bootstrap: str, topic: str, records: int, result: Path, datadir: str) -> None:
    """Run the do-nothing agent until it has seen `records` events; write the figures."""
    import faust
    import mode.loop

    mode.loop.use("uvloop")
    app = faust.App(
        f"floor-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=datadir,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
    )
    source = app.topic(topic, key_type=bytes, value_type=bytes)
    seen = {"n": 0, "first": 0.0}

    @app.agent(source)
    async def count(stream: faust.StreamT[bytes]) -> None:
        async for _event in stream.events():
            seen["n"] += 1
            if seen["n"] == 1:
                seen["first"], seen["cpu"] = time.perf_counter(), time.process_time()
            elif seen["n"] == records:
                seconds = time.perf_counter() - seen["first"]
                cpu_us = (time.process_time() - seen["cpu"]) / (records - 1) * 1e6
                figures = {"events": records, "seconds": round(seconds, 2),
                           "events/s": round((records - 1) / seconds),
                           "cpu_us_per_event": round(cpu_us)}  # fmt: skip
                result.write_text(json.dumps(figures))  # noqa: ASYNC240 - once, then exit
                os._exit(0)  # a bench: no graceful stop needed, the figure is written

    sys.argv = ["faust-floor", "worker", "--loglevel", "warn", "--without-web"]
    app.main()


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    default_bootstrap = os.environ.get("SWITCHBOARD_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    cli.add_argument("--bootstrap", default=default_bootstrap)
    cli.add_argument("--records", type=int, default=200_000)
    cli.add_argument("--partitions", type=int, default=8)
    cli.add_argument("--worker", nargs=3, metavar=("TOPIC", "RESULT", "DATADIR"),
                     help=argparse.SUPPRESS)  # fmt: skip
    args = cli.parse_args()
    if args.worker:
        worker(args.bootstrap, args.worker[0], args.records, Path(args.worker[1]), args.worker[2])
        return
    topic = f"faust-floor-{uuid.uuid4().hex[:8]}"
    asyncio.run(backlog(args.bootstrap, topic, args.records, args.partitions))
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        command = [sys.executable, __file__, "--bootstrap", args.bootstrap, "--records",
                   str(args.records), "--worker", topic, str(result), tmp]  # fmt: skip
        subprocess.run(command, check=False, timeout=1800)
        if not result.exists():
            raise SystemExit("the worker exited without a result")
        print(json.dumps({**json.loads(result.read_text()), "partitions": args.partitions,
                          "cpus": os.cpu_count()}))  # fmt: skip


if __name__ == "__main__":
    main()
