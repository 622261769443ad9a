"""The cost of standby replicas: two workers drain one backlog, --standby 0 or 1.

    SWITCHBOARD_KAFKA_BOOTSTRAP=127.0.0.1:19092 .venv/bin/python bench/standby_bench.py --standby 1

Both workers start on an empty topic and are ready together, then the backlog (the mix of
bench/streams_bench.py) is produced; each worker's events/s and CPU per event are counted
from its own metrics until the two account for every record. With one standby replica
each worker also applies the other's changelog records to its copies of its tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from streams_bench import cpu_seconds, mix, processed, produce_backlog

from switchboard.harness import WorkerGroup, create_topic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--standby", type=int, default=1)
    args = parser.parse_args()
    bootstrap = os.environ.get("SWITCHBOARD_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    group = WorkerGroup(
        bootstrap,
        Path(tempfile.mkdtemp(prefix="standby-bench-")),
        uids=[str(2049025000000000 + i) for i in range(1000)],
        tenant_ids=[str(300000 + i) for i in range(200)],
        extra_env={"SWITCHBOARD_STANDBY_REPLICAS": str(args.standby)},
    )
    topic = group.topic("raw-notifications")
    asyncio.run(create_topic(bootstrap, topic, group.partitions))
    try:
        workers = group.start(2)
        pids = [w.proc.pid for w in workers if w.proc]
        cpu = [cpu_seconds(pid) for pid in pids]
        started = time.monotonic()
        asyncio.run(produce_backlog(bootstrap, topic, mix(args.records)))
        while sum(processed(w.url) for w in workers) < args.records:
            time.sleep(0.25)
        seconds = time.monotonic() - started
        each = []
        for worker, pid, before in zip(workers, pids, cpu, strict=True):
            done = processed(worker.url)
            used = cpu_seconds(pid) - before
            each.append(
                {
                    "events": done,
                    "events_per_s": round(done / seconds),
                    "cpu_us_per_event": round(used / max(done, 1) * 1e6),
                    "cpu_cores": round(used / seconds, 2),
                }
            )
        figures = {"standby_replicas": args.standby, "records": args.records,
                   "seconds": round(seconds, 2), "workers": each}  # fmt: skip
        print(json.dumps(figures, indent=2))
    finally:
        group.stop()


if __name__ == "__main__":
    main()
