"""A real single-node Kafka (switchboard.localkafka) for the length of a fixture."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from switchboard import localkafka


@contextmanager
def single_node(home: Path, **options: Any) -> Iterator[localkafka.Cluster]:
    """Create, start and wait for a one-node cluster in `home` (options go to
    localkafka.create: overrides, secure); stopped on the way out. One that cannot start
    fails the test with the broker's error: never skipped."""
    cluster = localkafka.create(home, [localkafka.free_port()], [localkafka.free_port()], **options)
    try:
        localkafka.start_node(cluster, 1)
        localkafka.wait_ready(cluster, timeout=180)
    except BaseException as exc:
        localkafka.stop(home)
        pytest.fail(f"the test broker in {home} did not start: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        localkafka.stop(home)
