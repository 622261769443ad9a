"""`switchboard dead-letters list/redrive` against the real broker and a real worker.

Runs in file order (the second test adds a dead letter the first would count).
Two records are really dead-lettered by the worker (key-mismatch: a producer keyed
them wrongly, in the right partition), then a newer update of one row arrives. The
redrive keys them as the gateway does: one is applied, the other does not undo the
newer update, and a second redrive is dropped by the worker as a duplicate.
"""

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from typer.testing import CliRunner, Result

from schemas import headers as h
from streams.keys import partition_for
from switchboard.cli import app
from tests.integration.streams_fixtures import (
    WorkerGroup,
    consume,
    example_bytes,
    gateway_headers,
    produce,
    query,
    wait_caught_up,
)

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

DOC_UID = "2049025000431439"
COUNTED, USER, TESTED = "5000000000000001", "5000000000000002", "5000000000000003"
PARTITIONS = 8


@pytest.fixture(scope="module")
def group(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerGroup]:
    with WorkerGroup(
        kafka_bootstrap,
        Path(tmp_path_factory.mktemp("dead-letters")),
        uids=[COUNTED, USER, TESTED],
        partitions=PARTITIONS,
    ).running(1) as workers:
        yield workers


def as_org(example: str, org: str, notification_id: str | None = None) -> bytes:
    body = json.loads(example_bytes(example).replace(DOC_UID.encode(), org.encode()))
    if notification_id is not None:
        body["notificationId"] = notification_id
    return json.dumps(body).encode()


def wrong_key(org: str) -> str:
    """Another key in the organization's partition: the worker dead-letters the record
    (key-mismatch), and the redrive, keyed by the organization, lands beside it."""
    return next(
        key
        for key in (f"wrong-{i}" for i in range(10_000))
        if partition_for(key, PARTITIONS) == partition_for(org, PARTITIONS)
    )


def cli(group: WorkerGroup, *args: str) -> Result:
    env = {
        "SWITCHBOARD_KAFKA_BOOTSTRAP": group.bootstrap,
        "SWITCHBOARD_TOPIC_PREFIX": f"{group.name}.",
    }
    return CliRunner().invoke(app, ["dead-letters", *args], env=env)


async def raw_ends(group: WorkerGroup) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=group.bootstrap)
    await consumer.start()
    try:
        raw = group.topic("raw-notifications")
        ends: dict[TopicPartition, int] = await consumer.end_offsets(
            [TopicPartition(raw, p) for p in range(PARTITIONS)]
        )
        return ends
    finally:
        await consumer.stop()


async def groups(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return [str(g[0]) for g in await admin.list_consumer_groups()]
    finally:
        await admin.close()


def eventually(url: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        status, body = query(url)
        if (status == 200 and check(body)) or time.monotonic() > deadline:
            return status, body
        time.sleep(0.3)


def test_dead_letters_are_listed_redriven_once_and_never_undo_a_newer_update(
    group: WorkerGroup,
) -> None:
    raw, url = group.topic("raw-notifications"), group.workers[0].url
    delta = as_org("apple_asset_count", COUNTED)  # countDelta -12
    created = as_org("apple_user_management_create", USER)  # status Registered
    retired = as_org("apple_user_management_retire", USER, notification_id=str(uuid.uuid4()))
    asyncio.run(
        produce(
            group.bootstrap,
            raw,
            [
                (wrong_key(COUNTED).encode(), delta, gateway_headers("apple")),
                (wrong_key(USER).encode(), created, gateway_headers("apple")),
                (USER.encode(), retired, gateway_headers("apple")),  # newer, applied
            ],
        )
    )
    dead = asyncio.run(
        consume(group.bootstrap, group.topic("notifications.dead-letter"), at_least=2)
    )
    assert len(dead) == 2
    user_url = f"{url}/v1/orgs/{USER}/users/client-100"
    assert eventually(user_url, lambda u: u["status"] == "Retired")[1]["status"] == "Retired"

    listed = cli(group, "list", "--json", "--reason", "key-mismatch", "--since", "1h")
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert sorted((r["type"], r["org"], r["kind"]) for r in rows) == [
        ("ASSET_COUNT", COUNTED, "key-mismatch"),
        ("USER_MANAGEMENT", USER, "key-mismatch"),
    ]
    assert all(r["source"].startswith(f"{raw}/") and r["tenant"] == "integration" for r in rows)
    assert cli(group, "list", "--reason", "too-large").output.strip().count("\n") == 0  # head
    assert not [g for g in asyncio.run(groups(group.bootstrap)) if "dead-letters" in g]

    before = asyncio.run(raw_ends(group))
    dry = cli(group, "redrive", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would redrive: 2 (0 read from raw-notifications)" in dry.output
    assert asyncio.run(raw_ends(group)) == before  # nothing published

    for _ in range(2):  # the second time, the worker drops both as duplicates
        redriven = cli(group, "redrive", "--reason", "key-mismatch")
        assert redriven.exit_code == 0, redriven.output
        assert "redriven: 2 (0 read from raw-notifications)" in redriven.output
        assert "failed: 0" in redriven.output
        asyncio.run(wait_caught_up(group.bootstrap, group.name, raw, PARTITIONS))

    _, counts = query(f"{url}/v1/orgs/{COUNTED}/asset-counts")
    assert counts == [
        {"adamId": "408709785", "pricingParam": "STDQ", "count": -12, "baseline": None}
    ]
    _, user = query(user_url)
    assert user["status"] == "Retired"  # the older redrive did not undo the newer update
    forwarded = asyncio.run(
        consume(group.bootstrap, group.topic("notifications.user-management"), at_least=2)
    )
    redrives = [r for r in forwarded if dict(r.headers).get(h.REDRIVE_SOURCE)]
    assert [r.value for r in redrives] == [created]  # once, keyed by its organization
    assert redrives[0].key == USER.encode()
    assert dict(redrives[0].headers)[h.REDRIVE_SOURCE].decode() in {r["source"] for r in rows}


def test_an_original_left_out_of_its_dead_letter_is_read_from_raw_notifications(
    group: WorkerGroup,
) -> None:
    raw, dead_topic = group.topic("raw-notifications"), group.topic("notifications.dead-letter")
    body = as_org("apple_test_notification", TESTED)
    [original] = asyncio.run(
        produce(
            group.bootstrap, raw, [(wrong_key(TESTED).encode(), body, gateway_headers("apple"))]
        )
    )
    position = f"{raw}/{original.partition}/{original.offset}"
    asyncio.run(consume(group.bootstrap, dead_topic, at_least=3))  # the worker's, as above
    # What the worker writes when an original would not fit the dead-letter topic.
    omitted = [
        (h.DEAD_LETTER_REASON, b"too-large: 2000000 bytes for notifications.test"),
        (h.DEAD_LETTER_SOURCE, position.encode()),
        (h.DEAD_LETTER_OMITTED, b"2000000"),
    ]
    asyncio.run(produce(group.bootstrap, dead_topic, [(TESTED.encode(), b"", omitted)]))
    listed = cli(group, "list", "--json", "--reason", "too-large")
    [row] = [json.loads(line) for line in listed.output.splitlines()]
    assert (row["source"], row["omittedBytes"], row["type"]) == (position, 2000000, None)

    redriven = cli(group, "redrive", "--reason", "too-large")
    assert redriven.exit_code == 0, redriven.output
    assert "redriven: 1 (1 read from raw-notifications)" in redriven.output
    asyncio.run(wait_caught_up(group.bootstrap, group.name, raw, PARTITIONS))
    _, test = query(f"{group.workers[0].url}/v1/orgs/{TESTED}/last-test")
    assert test["notificationId"] == json.loads(body)["notificationId"]
