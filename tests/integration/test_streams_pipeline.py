"""One real worker against the real broker: routing, dedupe, conflicts, dead letters, views.

Every reference example is sent three times, each under its own organization (the three
USER_MANAGEMENT examples of the Apple document share one notificationId; under one
organization they are conflicts, which test_reference_user_examples_share_an_id shows).
"""

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from streams.keys import partition_for
from tests.integration.streams_fixtures import (
    OTHER_TOKEN,
    WorkerGroup,
    consume,
    example_bytes,
    gateway_headers,
    produce,
    query,
)

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

DOC_UID, DOC_TENANT = "2049025000431439", "312022"
EXAMPLES = {  # example -> (source, per-type topic)
    "apple_test_notification": ("apple", "notifications.test"),
    "apple_asset_count": ("apple", "notifications.asset-count"),
    "apple_asset_management_associate": ("apple", "notifications.asset-management"),
    "apple_asset_management_disassociate": ("apple", "notifications.asset-management"),
    "apple_asset_management_revoke": ("apple", "notifications.asset-management"),
    "apple_user_management_create": ("apple", "notifications.user-management"),
    "apple_user_management_update": ("apple", "notifications.user-management"),
    "apple_user_management_retire": ("apple", "notifications.user-management"),
    "apple_user_associated": ("apple", "notifications.user-associated"),
    "app_tenant_rest_url_change": ("app", "notifications.tenant-rest-url-change"),
}
ORGS = {name: str(3000000000000000 + i) for i, name in enumerate(sorted(EXAMPLES))}
SPARE_UIDS = [str(4000000000000000 + i) for i in range(10)]
TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def group(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerGroup]:
    with WorkerGroup(
        kafka_bootstrap,
        Path(tmp_path_factory.mktemp("streams-pipeline")),
        uids=[DOC_UID, *ORGS.values(), *SPARE_UIDS],
        tenant_ids=[DOC_TENANT, *ORGS.values()],
    ).running(1) as workers:
        yield workers


def as_org(example: str, org: str) -> bytes:
    body = example_bytes(example)
    return body.replace(
        DOC_TENANT.encode() if example.startswith("app_") else DOC_UID.encode(), org.encode()
    )


def send(
    group: WorkerGroup, records: list[tuple[str, bytes, list[tuple[str, bytes]]]]
) -> list[Any]:
    raw = [(key.encode(), value, headers) for key, value, headers in records]
    return asyncio.run(produce(group.bootstrap, group.topic("raw-notifications"), raw))


def records_on(group: WorkerGroup, topic: str, keys: set[str], at_least: int) -> list[Any]:
    got = asyncio.run(consume(group.bootstrap, group.topic(topic), at_least=at_least, idle_s=1.5))
    return [r for r in got if r.key is not None and r.key.decode() in keys]


def eventually(url: str, expect: int = 200, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        status, body = query(url)
        if status == expect or time.monotonic() > deadline:
            return status, body
        time.sleep(0.2)


def test_each_example_sent_three_times_lands_once_on_its_topic_and_in_the_tables(
    group: WorkerGroup,
) -> None:
    traced = [("traceparent", TRACEPARENT)]  # the sender's, kept by the gateway
    batch = [
        (ORGS[name], as_org(name, ORGS[name]), gateway_headers(EXAMPLES[name][0]) + traced)
        for name in sorted(EXAMPLES)
    ]
    sent = send(group, batch * 3)
    by_topic: dict[str, set[str]] = {}
    for name, (_, topic) in EXAMPLES.items():
        by_topic.setdefault(topic, set()).add(ORGS[name])
    for topic, orgs in by_topic.items():
        got = records_on(group, topic, orgs, at_least=len(orgs))
        assert sorted(r.key.decode() for r in got) == sorted(orgs), topic
        for record in got:  # same bytes, same partition as in raw-notifications
            name = next(n for n, o in ORGS.items() if o == record.key.decode())
            assert record.value == as_org(name, ORGS[name])
            assert record.partition == partition_for(record.key, group.partitions)
            assert dict(record.headers)["source"] == EXAMPLES[name][0].encode()
            assert dict(record.headers)["traceparent"] == TRACEPARENT
    assert {m.partition for m in sent} == {
        partition_for(o, group.partitions) for o in ORGS.values()
    }
    check_tables(group)


def check_tables(group: WorkerGroup) -> None:
    url = group.workers[0].url
    status, counts = eventually(f"{url}/v1/orgs/{ORGS['apple_asset_count']}/asset-counts")
    assert (status, counts) == (
        200,
        [{"adamId": "408709785", "pricingParam": "STDQ", "count": -12, "baseline": None}],
    )
    org = ORGS["apple_asset_management_associate"]
    status, held = eventually(f"{url}/v1/orgs/{org}/assignments?adamId=408709785&pricingParam=STDQ")
    assert status == 200 and len(held["serialNumbers"]) == 3 and held["lastError"] is None
    for name, status_text in (
        ("apple_user_management_create", "Registered"),
        ("apple_user_management_retire", "Retired"),
        ("apple_user_associated", "Associated"),
    ):
        _, user = eventually(f"{url}/v1/orgs/{ORGS[name]}/users/client-100")
        assert user["status"] == status_text, name
    _, page = eventually(f"{url}/v1/orgs/{ORGS['apple_user_associated']}/users?status=Associated")
    assert [u["clientUserId"] for u in page["users"]] == ["client-100"]
    _, test = eventually(f"{url}/v1/orgs/{ORGS['apple_test_notification']}/last-test")
    assert test["notificationId"] == "792e327f-63ea-4658-9aec-f16f4327e3a8"
    _, tenant = eventually(f"{url}/v1/tenants/{ORGS['app_tenant_rest_url_change']}")
    assert tenant["tenantRestUrl"] == "http://www.tru1.com/test"


def test_reference_user_examples_share_an_id_so_two_are_conflicts(group: WorkerGroup) -> None:
    names = [
        "apple_user_management_create",
        "apple_user_management_update",
        "apple_user_management_retire",
    ]
    send(group, [(DOC_UID, example_bytes(n), gateway_headers("apple")) for n in names])
    conflicts = records_on(group, "notifications.conflicts", {DOC_UID}, at_least=2)
    assert [r.value for r in conflicts] == [example_bytes(n) for n in names[1:]]
    for record in conflicts:
        headers = dict(record.headers)
        assert len(headers["conflict-first-sha256"]) == 64
        assert headers["conflict-first-sha256"] != headers["content-sha256"]
    _, user = eventually(f"{group.workers[0].url}/v1/orgs/{DOC_UID}/users/client-100")
    assert user["status"] == "Registered"  # the first one only


def test_unknown_type_goes_to_other(group: WorkerGroup) -> None:
    uid = SPARE_UIDS[0]
    body = json.dumps(
        {
            "notification": {"count": 3},
            "notificationId": str(uuid.uuid4()),
            "notificationType": "SUBSCRIPTION_COUNT",
            "uId": uid,
        }
    ).encode()
    send(group, [(uid, body, gateway_headers("apple"))] * 3)
    got = records_on(group, "notifications.other", {uid}, at_least=1)
    assert [r.value for r in got] == [body]


def test_garbage_and_unknown_sources_go_to_dead_letter_with_a_reason(group: WorkerGroup) -> None:
    uid = SPARE_UIDS[1]
    valid = as_org("apple_asset_count", uid)
    send(
        group,
        [
            (uid, b"\x00 not json", gateway_headers("apple")),
            (uid, valid, [("received-at", b"1")]),
            (uid, valid, gateway_headers("mdm")),
            (SPARE_UIDS[2], valid, gateway_headers("apple")),  # key is not the uId of the body
        ],
    )
    dead = records_on(group, "notifications.dead-letter", {uid, SPARE_UIDS[2]}, at_least=4)
    reasons = [(r.key.decode(), dict(r.headers)["dead-letter-reason"].decode()) for r in dead]
    assert sorted((key, reason.split(":")[0]) for key, reason in reasons) == sorted(
        [
            (uid, "invalid-body"),
            (uid, "unknown-source"),
            (uid, "unknown-source"),
            (SPARE_UIDS[2], "key-mismatch"),
        ]
    )
    assert all(dict(r.headers)["dead-letter-source"].count(b"/") == 2 for r in dead)
    assert b"\x00 not json" in [r.value for r in dead]


def test_views_refuse_bad_credentials_and_other_tenants(group: WorkerGroup) -> None:
    url = f"{group.workers[0].url}/v1/orgs/{ORGS['apple_asset_count']}/asset-counts"
    assert query(url, token=None)[0] == 401
    assert query(url, token="nope")[0] == 401
    assert query(url, token=OTHER_TOKEN)[0] == 403
    assert query(f"{group.workers[0].url}/v1/orgs/{SPARE_UIDS[9]}/last-test")[0] == 404
    metrics = httpx.get(f"{group.workers[0].url}/metrics", timeout=10)
    assert metrics.status_code == 200
    assert 'switchboard_stream_duplicates_total{type="ASSET_COUNT"}' in metrics.text
