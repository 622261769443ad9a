"""Session fixtures for the real services tests talk to, registered by tests/conftest.py.

`kafka_bootstrap` starts one real Apache Kafka broker (scripts/kafka/pom.xml, KRaft) for the
whole run, or uses SWITCHBOARD_KAFKA_BOOTSTRAP when set. If the broker cannot start the
tests that need it fail with the broker's log; they are never skipped. `redis_server`
does the same for a real redis-server (the gateway's shared state).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.kafka_node import single_node
from tests.redis_server import RedisServer


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("SWITCHBOARD_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    with single_node(tmp_path_factory.mktemp("kafka")) as cluster:
        yield cluster.bootstrap


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the run (`make redis` installs it); fails, never skips."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A name no other test uses: for topics and consumer groups."""
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace("]", "")
