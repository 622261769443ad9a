"""A real worker's /metrics: consumer lag per partition, process metrics, rebalances.

The worker commits every hour here (SWITCHBOARD_COMMIT_INTERVAL_S), so once it has
processed the records produced their offsets stay uncommitted, and the lag of each
partition must be exactly the records produced to it. A clean stop commits them: the
restarted worker reads its group's offsets and reports no lag, with the same high
watermarks. Kafka's own view of the group (streams_fixtures.lag) must agree each time.
"""

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.streams_fixtures import (
    WorkerGroup,
    WorkerProcess,
    gateway_headers,
    lag,
    produce,
)

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

PARTITIONS = 4
UIDS = [str(5000000000000000 + i) for i in range(12)]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def group(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerGroup]:
    with WorkerGroup(
        kafka_bootstrap,
        Path(tmp_path_factory.mktemp("streams-metrics")),
        uids=UIDS,
        partitions=PARTITIONS,
        extra_env={"SWITCHBOARD_COMMIT_INTERVAL_S": "3600"},
    ).running(1) as workers:
        yield workers


def scrape(worker: WorkerProcess) -> Samples:
    text = httpx.get(f"{worker.url}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def lags(samples: Samples, topic: str) -> dict[int, float]:
    return {
        int(dict(labels)["partition"]): value
        for (name, labels), value in samples.items()
        if name == "switchboard_stream_consumer_lag" and dict(labels)["topic"] == topic
    }


def total(samples: Samples, name: str) -> float:
    return sum(value for (n, _), value in samples.items() if n == name)


def wait_for(
    worker: WorkerProcess, check: Callable[[Samples], bool], limit_s: float = 60
) -> Samples:
    """Scrape until `check` holds: the worker is polled, never waited on blindly."""
    deadline = time.monotonic() + limit_s
    while True:
        samples = scrape(worker)
        if check(samples):
            return samples
        assert time.monotonic() < deadline, f"not seen in {limit_s}s: {samples}"
        time.sleep(0.2)


def test_process_metrics_are_exported(group: WorkerGroup) -> None:
    samples = scrape(group.workers[0])
    assert total(samples, "process_resident_memory_bytes") > 10 * 1024 * 1024
    assert total(samples, "process_open_fds") > 0
    assert "process_cpu_seconds_total" in {name for name, _ in samples}
    assert "python_info" in {name for name, _ in samples}
    assert total(samples, "switchboard_stream_rebalances_total") >= 1


def test_lag_per_partition_before_and_after_the_worker_commits(group: WorkerGroup) -> None:
    worker, topic = group.workers[0], group.topic("raw-notifications")
    idle = wait_for(worker, lambda s: len(lags(s, topic)) == PARTITIONS)
    assert lags(idle, topic) == dict.fromkeys(range(PARTITIONS), 0)

    records = [
        (
            uid.encode(),
            json.dumps(
                {
                    "notification": {},
                    "notificationId": str(uuid.uuid4()),
                    "notificationType": "TEST_NOTIFICATION",
                    "uId": uid,
                }
            ).encode(),
            gateway_headers("apple"),
        )
        for uid in UIDS
        for _ in range(3)
    ]
    written = asyncio.run(produce(group.bootstrap, topic, records))
    produced = Counter(meta.partition for meta in written)
    assert len(produced) > 1, "the records should spread over partitions"
    expected = {p: float(produced.get(p, 0)) for p in range(PARTITIONS)}

    processed = wait_for(
        worker,
        lambda s: (
            total(s, "switchboard_stream_events_total") == len(records)
            and lags(s, topic) == expected
        ),
    )
    assert lags(processed, topic) == expected
    assert asyncio.run(lag(group.bootstrap, group.name, topic, PARTITIONS)) == len(records)

    worker.stop()  # a clean stop commits what was processed
    assert asyncio.run(lag(group.bootstrap, group.name, topic, PARTITIONS)) == 0
    worker.start()
    group.wait_ready()
    caught_up = wait_for(worker, lambda s: len(lags(s, topic)) == PARTITIONS)
    assert lags(caught_up, topic) == dict.fromkeys(range(PARTITIONS), 0)
    assert total(caught_up, "switchboard_stream_events_total") == 0  # nothing replayed
