"""Asset-count baselines in the worker: the updates, the agent and the asset-count view."""

import json
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from faust.exceptions import SameNode

from schemas import headers as h
from schemas.apple import parse_apple
from schemas.baseline import parse_baseline
from streams import metrics, views
from streams.app import app, settings
from streams.keys import partition_for, table_key
from streams.records import Notification
from streams.tables import asset_counts
from streams.updates import add_count, changes_for, set_baseline, writes_for
from tests.unit.streams.support import ACME_UID, GLOBEX_UID, Recorder

AT = 1_700_000_000_000
TAKEN_AT = 1_764_587_700_000
KEY = table_key(ACME_UID, "408709785", "STDQ")


def baseline_body(total: int = 100, baseline_id: str = "b-1", uid: str = ACME_UID) -> bytes:
    asset = {
        "adamId": "408709785",
        "pricingParam": "STDQ",
        "totalCount": total,
        "assignedCount": 30,
        "availableCount": total - 30,
        "productType": "App",
        "revocable": True,
    }
    document = {"baselineId": baseline_id, "uId": uid, "takenAt": TAKEN_AT, "assets": [asset]}
    return json.dumps(document).encode()


def delta_body(delta: int, notification_id: str) -> bytes:
    notification = {"adamId": "408709785", "countDelta": delta, "pricingParam": "STDQ"}
    document = {
        "notification": notification,
        "notificationId": notification_id,
        "notificationType": "ASSET_COUNT",
        "uId": ACME_UID,
    }
    return json.dumps(document).encode()


def baseline(total: int = 100) -> Notification:
    b = parse_baseline(baseline_body(total))
    return Notification("baseline", b.uId, b.baselineId, "ASSET_BASELINE", b)


def delta(value: int, nid: str = "n") -> Notification:
    env = parse_apple(delta_body(value, nid))
    return Notification("apple", env.uId, env.notificationId, env.notificationType, env)


def apply(n: Notification, offset: int, table: dict[str, Any]) -> None:
    """What the agent does with an event's writes, on a plain dict."""
    for write in writes_for(n, offset, AT + offset, lambda _, key: table.get(key)):
        table[write.key] = write.value


EXPECTED_BASELINE = {  # as the view answers it
    "baselineId": "b-1",
    "takenAt": TAKEN_AT,
    "receivedAt": AT + 5,
    "totalCount": 100,
    "assignedCount": 30,
    "availableCount": 70,
}
STORED_BASELINE = {**EXPECTED_BASELINE, "offset": 5}  # the row also keeps its position


def test_deltas_then_a_baseline_then_deltas_count_from_the_baseline() -> None:
    table: dict[str, Any] = {}
    apply(delta(-12, "n1"), 1, table)
    apply(delta(4, "n2"), 2, table)
    assert table[KEY]["count"] == -8 and "baseline" not in table[KEY]
    apply(baseline(100), 5, table)
    assert (table[KEY]["count"], table[KEY]["baseline"]) == (100, STORED_BASELINE)
    apply(delta(3, "n3"), 6, table)
    apply(delta(-1, "n4"), 7, table)
    assert table[KEY] == {
        "uId": ACME_UID,
        "adamId": "408709785",
        "pricingParam": "STDQ",
        "count": 102,
        "offset": 7,
        "baseline": STORED_BASELINE,
    }


def test_a_baseline_and_deltas_at_or_below_the_rows_offset_are_not_applied_again() -> None:
    table: dict[str, Any] = {}
    apply(baseline(100), 5, table)
    apply(delta(3), 6, table)
    before = dict(table[KEY])
    assert before["count"] == 103
    apply(baseline(100), 5, table)  # a replay after a crash: the count is not reset
    apply(delta(3), 6, table)
    apply(delta(50), 4, table)  # older than the baseline: already in it
    assert table[KEY] == before


def test_a_snapshot_no_newer_than_the_rows_changes_nothing() -> None:
    table: dict[str, Any] = {}
    apply(baseline(100), 5, table)
    apply(delta(3), 6, table)
    older = json.loads(baseline_body(50, "b-old"))
    older["takenAt"] = TAKEN_AT - 1
    for offset, body in enumerate((older, json.loads(baseline_body(60, "b-same"))), start=7):
        b = parse_baseline(json.dumps(body))
        apply(Notification("baseline", ACME_UID, b.baselineId, "ASSET_BASELINE", b), offset, table)
    assert (table[KEY]["count"], table[KEY]["baseline"]["baselineId"]) == (103, "b-1")
    newer = json.loads(baseline_body(70, "b-new"))
    newer["takenAt"] = TAKEN_AT + 1
    b = parse_baseline(json.dumps(newer))
    apply(Notification("baseline", ACME_UID, b.baselineId, "ASSET_BASELINE", b), 9, table)
    assert (table[KEY]["count"], table[KEY]["baseline"]["baselineId"]) == (70, "b-new")


def test_set_baseline_is_a_no_op_at_or_below_the_stored_offset() -> None:
    b = parse_baseline(baseline_body())
    row = {"count": 7, "offset": 9}
    assert set_baseline(row, ACME_UID, b.assets[0], b, offset=9, at_ms=AT) is None
    new = set_baseline(row, ACME_UID, b.assets[0], b, offset=10, at_ms=AT)
    assert new is not None and (new["count"], new["offset"]) == (100, 10)


def test_add_count_keeps_the_baseline_of_the_row() -> None:
    row = {"count": 100, "offset": 5, "baseline": STORED_BASELINE}
    new = add_count(row, ACME_UID, "408709785", "STDQ", -2, offset=6)
    assert new is not None and (new["count"], new["baseline"]) == (98, STORED_BASELINE)


def test_a_redriven_delta_from_before_the_baseline_is_counted_in_it_already() -> None:
    """A dead letter redriven after a baseline: its original offset (4) is before the
    baseline's (5), so Apple's snapshot holds it; one from after (6) adds to it."""
    row = {"count": 100, "offset": 8, "baseline": STORED_BASELINE}
    assert add_count(row, ACME_UID, "408709785", "STDQ", -2, offset=9, origin=4) is None
    new = add_count(row, ACME_UID, "408709785", "STDQ", -2, offset=9, origin=6)
    assert new is not None and (new["count"], new["offset"]) == (98, 9)


def test_a_baseline_changes_one_row_per_listed_asset_and_no_other() -> None:
    document = json.loads(baseline_body())
    second = {**document["assets"][0], "pricingParam": "PLUS"}
    document["assets"].append(second)
    b = parse_baseline(json.dumps(document))
    changes = changes_for(Notification("baseline", ACME_UID, "b-1", "ASSET_BASELINE", b), 1, AT)
    assert [(c.table, c.key) for c in changes] == [
        ("asset_counts", KEY),
        ("asset_counts", table_key(ACME_UID, "408709785", "PLUS")),
    ]


def baseline_headers(at: int) -> list[tuple[str, bytes]]:
    return [
        (h.TENANT, b"acme"),
        (h.SOURCE, b"baseline"),
        (h.RECEIVED_AT, str(at).encode()),
        (h.REQUEST_ID, b"req-b"),
    ]


async def test_the_agent_applies_a_baseline_without_forwarding_it(
    send: Any, produced: Recorder
) -> None:
    before = metrics.by_type(metrics.events, "ASSET_BASELINE")._value.get()
    await send(delta_body(-12, "n1"))
    await send(baseline_body(100), headers=baseline_headers(AT))
    await send(delta_body(5, "n2"))
    row = asset_counts.data.data[KEY]  # type: ignore[attr-defined]
    assert (row["count"], row["baseline"]["baselineId"]) == (105, "b-1")
    assert [r.topic for r in produced.routed] == ["notifications.asset-count"] * 2
    assert metrics.by_type(metrics.events, "ASSET_BASELINE")._value.get() == before + 1


async def test_a_resent_baseline_is_a_duplicate_and_does_not_reset_the_count(
    send: Any, produced: Recorder
) -> None:
    await send(baseline_body(100), headers=baseline_headers(AT))
    await send(delta_body(5, "n2"))
    await send(baseline_body(100), headers=baseline_headers(AT + 1000))  # a retried import
    assert asset_counts.data.data[KEY]["count"] == 105  # type: ignore[attr-defined]
    assert produced.to("notifications.dead-letter") == []


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (baseline_body(-1), ACME_UID, b"invalid-body: assets.0.totalCount"),
        (b'{"baselineId": "b"}', ACME_UID, b"invalid-body: uId"),
        (b"not json", ACME_UID, b"invalid-body: (body)"),
        (baseline_body(uid=GLOBEX_UID), ACME_UID, b"key-mismatch: "),
    ],
)
async def test_a_bad_baseline_is_dead_lettered_with_a_reason(
    send: Any, produced: Recorder, body: bytes, key: str, reason: bytes
) -> None:
    await send(body, key=key, headers=baseline_headers(AT))
    [dead] = produced.routed
    assert (dead.topic, dead.value) == ("notifications.dead-letter", body)
    assert dead.header(h.DEAD_LETTER_REASON).startswith(reason)  # type: ignore[union-attr]
    assert asset_counts.data.data == {}  # type: ignore[attr-defined]


async def asset_counts_view(monkeypatch: pytest.MonkeyPatch) -> tuple[int, Any]:
    async def same_node(*args: Any) -> Any:
        raise SameNode()  # this worker owns every key: answered here

    monkeypatch.setattr(app.router, "route_req", same_node)
    monkeypatch.setattr(views, "is_ready", lambda: True)
    request = make_mocked_request(
        "GET",
        f"/v1/orgs/{ACME_UID}/asset-counts",
        headers={"Authorization": "Bearer acme-token"},
        match_info={"uId": ACME_UID},
    )
    response = await views.AssetCountsView(app, app.web).dispatch(request)
    return response.status, json.loads(response.body)


async def test_the_view_answers_the_baseline_plus_later_deltas_and_when_it_was_taken(
    send: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = partition_for(ACME_UID, settings.partitions)  # the view reads its own partition
    await send(delta_body(-12, "n1"), partition=org)
    assert await asset_counts_view(monkeypatch) == (
        200,
        [{"adamId": "408709785", "pricingParam": "STDQ", "count": -12, "baseline": None}],
    )
    await send(baseline_body(100), headers=baseline_headers(AT), partition=org)
    await send(delta_body(5, "n2"), partition=org)
    assert await asset_counts_view(monkeypatch) == (
        200,
        [
            {
                "adamId": "408709785",
                "pricingParam": "STDQ",
                "count": 105,
                "baseline": {**EXPECTED_BASELINE, "receivedAt": AT},
            }
        ],
    )
