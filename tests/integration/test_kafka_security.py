"""The whole flow over SASL_SSL with ACLs, against `switchboard kafka start --secure`.

One secure broker for the module (its own free ports, CA and SCRAM users), one
deployment on it: a worker logged in as `workers`, a gateway process as `gateway`, the
least-privilege ACLs of switchboard.securekafka.acls for the deployment's topic prefix
and app id. The flow test reads what a subscriber reads, as `consumer`. The ACL tests
ask the broker for what each user must not do and expect its refusal; the credential
tests start a process with a wrong password or CA and expect a one-line exit.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import confluent_kafka
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from schemas import topics as names
from switchboard import securekafka
from switchboard.localkafka import REPO_ROOT, Cluster, free_port
from tests.integration.gateway_process import GatewayServer, ready_gateway
from tests.integration.streams_fixtures import TOKEN, WorkerGroup, query
from tests.kafka_node import single_node
from tests.unit.gateway.support import apple_body

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

UID = "5000000000000001"
SUBSCRIBED = names.ASSET_COUNT  # the one per-type topic the consumer user may read


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with single_node(tmp_path_factory.mktemp("secure-kafka"), secure=True) as found:
        yield found


@pytest.fixture(scope="module")
def group(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerGroup]:
    workers = WorkerGroup(
        cluster.bootstrap,
        Path(tmp_path_factory.mktemp("secure-workers")),
        uids=[UID],
        partitions=2,
        extra_env=cluster.secrets.env("workers"),
    )
    bindings = securekafka.acls(
        prefix=workers.topic(""),
        app_id=workers.name,
        consumer_topic=SUBSCRIBED,
        consumer_group=subscriber_group(workers),
    )
    securekafka.grant(cluster.bootstrap, cluster.secrets, bindings)
    with workers.running(1):
        yield workers


@pytest.fixture(scope="module")
def gateway(
    cluster: Cluster, group: WorkerGroup, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    with ready_gateway(
        gateway_env(cluster, group, cluster.secrets.env("gateway")),
        tmp_path_factory.mktemp("secure-gateway") / "gateway.log",
    ) as server:
        yield server


def subscriber_group(group: WorkerGroup) -> str:
    return f"{group.name}-subscriber"


def gateway_env(cluster: Cluster, group: WorkerGroup, security: dict[str, str]) -> dict[str, str]:
    return {
        "SWITCHBOARD_KAFKA_BOOTSTRAP": cluster.bootstrap,
        "SWITCHBOARD_TENANTS_FILE": str(group.tenants_file),
        "SWITCHBOARD_RAW_TOPIC": group.topic(names.RAW_NOTIFICATIONS),
        **security,
    }


async def read_as(
    cluster: Cluster, user: str, topic: str, group_id: str | None, at_least: int = 1
) -> list[Any]:
    """Subscribe as `user` (in `group_id`) and read until `at_least` records came."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=cluster.bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **cluster.client_options(user),
    )
    got: list[Any] = []
    try:
        await consumer.start()
        deadline = time.monotonic() + 60
        while len(got) < at_least and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            got.extend(r for records in batch.values() for r in records)
    finally:
        await consumer.stop()
    return got


def produce_as(
    cluster: Cluster, user: str, topic: str, idempotent: bool = True
) -> confluent_kafka.KafkaError | None:
    """One record as `user` with the gateway's client (librdkafka): its delivery error.
    A user with WRITE on no topic at all cannot even get an idempotent producer id
    (Cluster authorization failed, KIP-679), hence `idempotent=False` to reach the topic."""
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "enable.idempotence": idempotent,
            "acks": "all",
            "message.timeout.ms": 30_000,
            **cluster.secrets.librdkafka(user),
        }
    )
    errors: list[confluent_kafka.KafkaError | None] = []
    producer.produce(topic, b"{}", UID.encode(), on_delivery=lambda e, _: errors.append(e))
    producer.flush(40)
    assert len(errors) == 1, "no delivery report"
    return errors[0]


def test_the_whole_flow_over_sasl_ssl(
    cluster: Cluster, group: WorkerGroup, gateway: GatewayServer
) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/notifications",
        content=apple_body(UID),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 202, response.text

    url = f"{group.workers[0].url}/v1/orgs/{UID}/asset-counts"
    deadline = time.monotonic() + 60
    while (found := query(url)) != (
        200,
        [{"adamId": "408709785", "pricingParam": "STDQ", "count": -12, "baseline": None}],
    ):
        assert time.monotonic() < deadline, (
            f"table never showed it: {found}\n{group.workers[0].tail()}"
        )
        time.sleep(0.2)

    records = asyncio.run(
        read_as(cluster, "consumer", group.topic(SUBSCRIBED), subscriber_group(group))
    )
    assert [r.key for r in records] == [UID.encode()]


def test_the_gateway_user_writes_raw_notifications_and_nothing_else(
    cluster: Cluster, group: WorkerGroup
) -> None:
    assert produce_as(cluster, "gateway", group.topic(names.RAW_NOTIFICATIONS)) is None
    for topic in (SUBSCRIBED, names.DEAD_LETTER, names.CONFLICTS):
        error = produce_as(cluster, "gateway", group.topic(topic))
        assert (
            error is not None
            and error.code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED
        )
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(read_as(cluster, "gateway", group.topic(names.RAW_NOTIFICATIONS), None))


def test_the_consumer_user_reads_its_one_topic_only(cluster: Cluster, group: WorkerGroup) -> None:
    for topic in (names.RAW_NOTIFICATIONS, names.TEST, names.DEAD_LETTER):
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(read_as(cluster, "consumer", group.topic(topic), subscriber_group(group)))
    with pytest.raises(GroupAuthorizationFailedError):  # its topic, but another's group
        asyncio.run(read_as(cluster, "consumer", group.topic(SUBSCRIBED), group.name))
    error = produce_as(cluster, "consumer", group.topic(SUBSCRIBED), idempotent=False)
    assert (
        error is not None and error.code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED
    )


def test_the_workers_user_stays_within_its_deployment(cluster: Cluster, group: WorkerGroup) -> None:
    """It cannot write raw-notifications (only the gateway vouches for a sender), nor touch
    another deployment's topics or create topics outside its own names."""

    async def attempts() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=cluster.bootstrap, **cluster.client_options("workers")
        )
        await producer.start()
        try:
            for topic in (group.topic(names.RAW_NOTIFICATIONS), f"other.{SUBSCRIBED}"):
                with pytest.raises(TopicAuthorizationFailedError):
                    await producer.send_and_wait(topic, b"{}", key=UID.encode())
        finally:
            await producer.stop()
        admin = AIOKafkaAdminClient(
            bootstrap_servers=cluster.bootstrap, **cluster.client_options("workers")
        )
        await admin.start()
        try:
            response = await admin.create_topics([NewTopic(f"other.{SUBSCRIBED}", 1, 1)])
        finally:
            await admin.close()
        assert [code for _, code, *_ in response.topic_errors] == [29]  # TOPIC_AUTHORIZATION

    asyncio.run(attempts())


def run_until_exit(argv: list[str], env: dict[str, str], limit_s: float = 60) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", *argv],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=limit_s,
        check=False,
    )
    return result.returncode, result.stderr.strip()


def test_a_wrong_password_stops_the_gateway_at_once_in_one_line(
    cluster: Cluster, group: WorkerGroup, tmp_path: Path
) -> None:
    security = {**cluster.secrets.env("gateway"), "SWITCHBOARD_KAFKA_SASL_PASSWORD": "wrong"}
    started = time.monotonic()
    code, stderr = run_until_exit(
        ["gateway", "--port", str(free_port())], gateway_env(cluster, group, security)
    )
    assert code != 0 and time.monotonic() - started < 30
    last = stderr.splitlines()[-1]
    assert last.startswith("switchboard gateway: Kafka refused the gateway's credentials"), stderr
    assert "SWITCHBOARD_KAFKA_SASL_PASSWORD" in last and "wrong" not in last.split("check")[1]


def test_a_wrong_ca_stops_the_gateway_at_once_in_one_line(
    cluster: Cluster, group: WorkerGroup, tmp_path: Path
) -> None:
    other = securekafka.generate(tmp_path / "other-ca")
    security = {
        **cluster.secrets.env("gateway"),
        "SWITCHBOARD_KAFKA_SSL_CA_FILE": str(other.ca_file),
    }
    code, stderr = run_until_exit(
        ["gateway", "--port", str(free_port())], gateway_env(cluster, group, security)
    )
    assert code != 0
    last = stderr.splitlines()[-1]
    assert (
        "Kafka refused the gateway's credentials" in last
        and "SWITCHBOARD_KAFKA_SSL_CA_FILE" in last
    )


@pytest.mark.parametrize("wrong", ["password", "ca"])
def test_wrong_credentials_stop_the_worker_at_once_in_one_line(
    cluster: Cluster, group: WorkerGroup, tmp_path: Path, wrong: str
) -> None:
    worker = group.add_worker()
    group.workers.remove(worker)  # never started by the group
    env = dict(worker.env)
    if wrong == "password":
        env["SWITCHBOARD_KAFKA_SASL_PASSWORD"] = "wrong"
    else:
        env["SWITCHBOARD_KAFKA_SSL_CA_FILE"] = str(securekafka.generate(tmp_path / "ca").ca_file)
    started = time.monotonic()
    code, stderr = run_until_exit(["worker"], env)
    assert code != 0 and time.monotonic() - started < 45
    last = stderr.splitlines()[-1]
    assert last.startswith("switchboard worker: Kafka refused the worker's credentials"), stderr
    setting = (
        "SWITCHBOARD_KAFKA_SASL_PASSWORD"
        if wrong == "password"
        else "SWITCHBOARD_KAFKA_SSL_CA_FILE"
    )
    assert setting in last
