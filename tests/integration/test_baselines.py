"""An asset-count baseline end to end: a real gateway, the real broker and a real worker.

Deltas, then `switchboard baseline import` of a Get Assets answer through the gateway,
then more deltas: the view answers the baseline's totalCount plus the later deltas only,
with the baseline's id, time and counts.
"""

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.baseline import import_file
from tests.integration.gateway_process import GatewayServer, ready_gateway
from tests.integration.streams_fixtures import TOKEN, WorkerGroup, query, wait_caught_up

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

UID = "5000000000000001"
TAKEN_AT_MS = (int(time.time()) - 60) * 1000  # a minute ago: the gateway refuses the future
TAKEN_AT = datetime.fromtimestamp(TAKEN_AT_MS / 1000, UTC).isoformat()
GET_ASSETS = Path(__file__).parents[1] / "fixtures" / "get_assets.json"


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerGroup, GatewayServer]]:
    home = Path(tmp_path_factory.mktemp("baselines"))
    with WorkerGroup(kafka_bootstrap, home, uids=[UID], partitions=2).running(1) as group:
        env = {  # the worker created the topics: the gateway is ready once it sees them
            "SWITCHBOARD_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "SWITCHBOARD_TENANTS_FILE": str(group.tenants_file),
            "SWITCHBOARD_RAW_TOPIC": group.topic("raw-notifications"),
        }
        with ready_gateway(env, home / "gateway.log") as gateway:
            yield group, gateway


def post_delta(gateway: GatewayServer, adam_id: str, delta: int) -> None:
    body = {
        "notification": {"adamId": adam_id, "countDelta": delta, "pricingParam": "STDQ"},
        "notificationId": str(uuid.uuid4()),
        "notificationType": "ASSET_COUNT",
        "uId": UID,
    }
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    response = httpx.post(f"{gateway.url}/v1/notifications", json=body, headers=headers)
    assert response.status_code == 202, response.text


def counts_when_applied(group: WorkerGroup) -> dict[str, Any]:
    """The view's rows by adamId, once the worker has committed every record sent."""
    raw = group.topic("raw-notifications")
    asyncio.run(wait_caught_up(group.bootstrap, group.name, raw, partitions=2))
    status, rows = query(f"{group.workers[0].url}/v1/orgs/{UID}/asset-counts")
    assert status == 200, rows
    return {row["adamId"]: row for row in rows}


def test_the_view_answers_the_baseline_plus_the_deltas_after_it(
    stack: tuple[WorkerGroup, GatewayServer], tmp_path: Path
) -> None:
    group, gateway = stack
    for delta in (-12, 4):
        post_delta(gateway, "408709785", delta)
    before = counts_when_applied(group)
    assert (before["408709785"]["count"], before["408709785"]["baseline"]) == (-8, None)

    page = json.loads(GET_ASSETS.read_bytes())
    page["uId"] = UID
    file = tmp_path / "assets.json"
    file.write_text(json.dumps(page))
    imported = import_file(file, UID, TOKEN, gateway.url, TAKEN_AT)
    assert (imported.assets, imported.taken_at_ms) == (2, TAKEN_AT_MS)
    for delta in (3, -1):
        post_delta(gateway, "408709785", delta)
    post_delta(gateway, "377298193", 7)

    after = counts_when_applied(group)
    first, second = after["408709785"], after["377298193"]
    assert first["count"] == 15000 + 3 - 1  # the deltas before the baseline are in it
    assert second["count"] == 15000 + 7
    assert first["baseline"] == {
        "baselineId": imported.baseline_id,
        "takenAt": TAKEN_AT_MS,
        "receivedAt": first["baseline"]["receivedAt"],
        "totalCount": 15000,
        "assignedCount": 5000,
        "availableCount": 10000,
    }
    assert abs(first["baseline"]["receivedAt"] - time.time() * 1000) < 600_000  # the gateway's

    again = import_file(file, UID, TOKEN, gateway.url, TAKEN_AT)  # a retried import
    assert again.baseline_id == imported.baseline_id
    assert counts_when_applied(group)["408709785"]["count"] == 15002  # a duplicate: dropped
