"""How each notification changes the tables: pure functions, including replays."""

import json
from typing import Any

import pytest

from schemas.app import parse_app
from schemas.apple import UserAssociatedEnvelope, parse_apple
from streams.errors import CannotApplyError
from streams.keys import CLIENT_USER, SERIAL, assignment_key, key_parts, key_prefix, table_key
from streams.records import Notification
from streams.updates import add_count, applied, apply_user, changes_for, writes_for
from tests.unit.streams.support import ACME_UID, example_bytes

AT = 1_700_000_000_000


def apple(body: bytes | dict[str, Any]) -> Notification:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    env = parse_apple(raw)
    return Notification("apple", env.uId, env.notificationId, env.notificationType, env)


def apply_all(n: Notification, offset: int, tables: dict[str, dict[str, Any]]) -> None:
    """What the agent does with the changes, on plain dicts."""
    for change in changes_for(n, offset, AT + offset):
        table = tables.setdefault(change.table, {})
        new = change.update(table.get(change.key))
        if new is not None:
            table[change.key] = new


def with_assignments(kind: str, result: str = "SUCCESS", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(example_bytes("apple_asset_management_associate"))
    body["notification"].update(type=kind, result=result, **extra)
    return body


def test_asset_count_adds_the_delta_once_per_offset() -> None:
    first = add_count(None, "u", "a", "p", -12, offset=5)
    assert first == {"uId": "u", "adamId": "a", "pricingParam": "p", "count": -12, "offset": 5}
    assert add_count(first, "u", "a", "p", 7, offset=5) is None  # replayed: no-op
    assert add_count(first, "u", "a", "p", 7, offset=4) is None  # older: no-op
    assert add_count(first, "u", "a", "p", 7, offset=6)["count"] == -5  # type: ignore[index]


def test_asset_count_example_keys_by_uid_adam_id_and_pricing_param() -> None:
    tables: dict[str, dict[str, Any]] = {}
    apply_all(apple(example_bytes("apple_asset_count")), 0, tables)
    key = table_key(ACME_UID, "408709785", "STDQ")
    assert tables["asset_counts"][key]["count"] == -12


def holders(tables: dict[str, dict[str, Any]], adam: str, kind: str) -> list[str]:
    """The holders of (ACME_UID, adam, STDQ) of one kind, as the rows say."""
    prefix = key_prefix(ACME_UID, adam, "STDQ", kind)
    rows = tables.get("assignment_rows", {})
    return sorted(
        key_parts(k)[4] for k, v in rows.items() if k.startswith(prefix) and v["assigned"]
    )


def test_associate_then_disassociate_then_revoke_examples() -> None:
    tables: dict[str, dict[str, Any]] = {}
    apply_all(apple(example_bytes("apple_asset_management_associate")), 1, tables)
    assert holders(tables, "408709785", SERIAL) == sorted(
        [
            "97c42a74-c30e-4172-a65f-6e5a5ba3d477",
            "495622d3-76f1-4fd3-8647-3f0365159170",
            "eabcbb89-8213-4185-afb4-30cae931ea37",
        ]
    )
    client = with_assignments("ASSOCIATE")
    client["notification"]["assignments"] = [
        {"adamId": "408709785", "pricingParam": "STDQ", "clientUserId": "client-100"},
        {"adamId": "329103948", "pricingParam": "STDQ", "clientUserId": "client-100"},
    ]
    apply_all(apple(client), 2, tables)
    assert holders(tables, "408709785", CLIENT_USER) == ["client-100"]

    apply_all(apple(example_bytes("apple_asset_management_disassociate")), 3, tables)
    assert holders(tables, "408709785", CLIENT_USER) == []
    assert holders(tables, "329103948", CLIENT_USER) == ["client-100"]

    apply_all(apple(example_bytes("apple_asset_management_revoke")), 4, tables)
    assert holders(tables, "329103948", CLIENT_USER) == []
    assert len(holders(tables, "408709785", SERIAL)) == 3  # serials untouched


def test_one_small_row_per_holder_whatever_the_organization_holds() -> None:
    """The cost of an ASSOCIATE is its own holders' rows: no value grows with the asset."""
    tables: dict[str, dict[str, Any]] = {}
    for offset in range(50):
        body = with_assignments("ASSOCIATE")
        body["notification"]["assignments"] = [
            {"adamId": "1", "pricingParam": "STDQ", "serialNumber": f"s-{offset}-{i}"}
            for i in range(100)
        ]
        changes = changes_for(apple(body), offset, AT)
        assert len(changes) == 100
        assert {c.table for c in changes} == {"assignment_rows"}
        for change in changes:
            value = change.update(tables.get("assignment_rows", {}).get(change.key))
            assert value == {"assigned": True, "at": AT, "offset": offset}
            tables.setdefault("assignment_rows", {})[change.key] = value
    assert len(holders(tables, "1", SERIAL)) == 5000


def test_a_holder_listed_twice_is_one_update() -> None:
    body = with_assignments("ASSOCIATE")
    one = {"adamId": "1", "pricingParam": "STDQ", "serialNumber": "s1"}
    body["notification"]["assignments"] = [one, dict(one)]
    changes = changes_for(apple(body), 7, AT)
    assert [c.key for c in changes] == [assignment_key(ACME_UID, "1", "STDQ", SERIAL, "s1")]


def test_a_removed_holder_keeps_its_row_so_an_older_event_cannot_bring_it_back() -> None:
    tables: dict[str, dict[str, Any]] = {}
    apply_all(apple(example_bytes("apple_asset_management_associate")), 5, tables)
    apply_all(apple(with_assignments("DISASSOCIATE")), 6, tables)
    assert holders(tables, "408709785", SERIAL) == []
    assert len(tables["assignment_rows"]) == 3  # held by no one, guarded by offset 6
    apply_all(apple(example_bytes("apple_asset_management_associate")), 5, tables)  # replay
    assert holders(tables, "408709785", SERIAL) == []


def test_failure_is_kept_as_last_error_and_changes_no_holder() -> None:
    tables: dict[str, dict[str, Any]] = {}
    apply_all(apple(example_bytes("apple_asset_management_associate")), 1, tables)
    failed = with_assignments(
        "DISASSOCIATE", "FAILURE", error={"errorMessage": "no such device", "errorNumber": 9610}
    )
    apply_all(apple(failed), 2, tables)
    assert len(holders(tables, "408709785", SERIAL)) == 3
    value = tables["assignment_errors"][table_key(ACME_UID, "408709785", "STDQ")]
    assert value == {
        "notificationId": "ba8bbb23-44c2-44f6-a928-eff6ba5ffac3",
        "eventId": "87cbc650-16cc-4f9e-a833-e622f377a9f7",
        "type": "DISASSOCIATE",
        "result": "FAILURE",
        "errorMessage": "no such device",
        "errorNumber": 9610,
        "at": AT + 2,
        "offset": 2,
    }
    apply_all(apple(with_assignments("ASSOCIATE")), 3, tables)  # a success keeps it
    assert tables["assignment_errors"][table_key(ACME_UID, "408709785", "STDQ")] == value


def test_unknown_assignment_type_changes_nothing() -> None:
    assert changes_for(apple(with_assignments("TRANSFER")), 1, AT) == []


@pytest.mark.parametrize(
    ("example", "status"),
    [
        ("apple_user_management_create", "Registered"),
        ("apple_user_management_update", "Registered"),
        ("apple_user_management_retire", "Retired"),
        ("apple_user_associated", "Associated"),
    ],
)
def test_user_examples_set_the_user_status(example: str, status: str) -> None:
    tables: dict[str, dict[str, Any]] = {}
    apply_all(apple(example_bytes(example)), 3, tables)
    user = tables["user_status"][table_key(ACME_UID, "client-100")]
    assert user["status"] == status
    assert user["email"] == "client-100@apple.com"
    assert user["inviteCode"] == "f551b37da07146628e8dcbe0111f0364"
    assert user["updatedAt"] == AT + 3


def test_user_fields_left_out_keep_their_value_and_retire_defaults_its_status() -> None:
    tables: dict[str, dict[str, Any]] = {}
    apply_all(apple(example_bytes("apple_user_associated")), 1, tables)
    retire = json.loads(example_bytes("apple_user_management_retire"))
    retire["notification"]["users"] = [{"clientUserId": "client-100"}]
    apply_all(apple(retire), 2, tables)
    user = tables["user_status"][table_key(ACME_UID, "client-100")]
    assert user["status"] == "Retired"
    assert user["idHash"] == "leSKk3IaE2vk2KLmv2k3/200D3="


def test_failed_user_management_changes_no_user() -> None:
    body = json.loads(example_bytes("apple_user_management_create"))
    body["notification"]["result"] = "FAILURE"
    assert changes_for(apple(body), 1, AT) == []


def test_user_update_is_skipped_when_already_applied() -> None:
    env = parse_apple(example_bytes("apple_user_associated"))
    assert isinstance(env, UserAssociatedEnvelope)
    user = env.notification.associatedUsers[0]
    first = apply_user(None, ACME_UID, user, "Associated", offset=9, at_ms=AT)
    assert apply_user(first, ACME_UID, user, "Associated", offset=9, at_ms=AT + 1) is None


def test_test_notification_and_tenant_url_replace_their_value() -> None:
    tables: dict[str, dict[str, Any]] = {}
    apply_all(apple(example_bytes("apple_test_notification")), 4, tables)
    assert tables["last_tests"][table_key(ACME_UID)] == {
        "uId": ACME_UID,
        "notificationId": "792e327f-63ea-4658-9aec-f16f4327e3a8",
        "receivedAt": AT + 4,
        "offset": 4,
    }
    event = parse_app(example_bytes("app_tenant_rest_url_change"))
    n = Notification("app", event.tenant_id, event.eventId, event.eventType, event)
    apply_all(n, 5, tables)
    assert tables["tenant_urls"][table_key("312022")] == {
        "tenantId": "312022",
        "tenantRestUrl": "http://www.tru1.com/test",
        "productUuid": "c9ade037-9b06-4b9c-85dd-473adc5951c8",
        "eventId": "2228f731-7b81-4d5b-a159-e0e3a8b9963c",
        "updatedAt": AT + 5,
        "offset": 5,
    }
    apply_all(n, 5, tables)  # replay
    assert tables["tenant_urls"][table_key("312022")]["offset"] == 5


def test_types_we_do_not_model_change_no_table() -> None:
    body = {"notification": {"x": 1}, "notificationId": "n", "notificationType": "NEW", "uId": "u"}
    assert changes_for(apple(body), 1, AT) == []


def test_applied_compares_offsets() -> None:
    assert not applied(None, 0)
    assert applied({"offset": 3}, 3) and applied({"offset": 3}, 2)
    assert not applied({"offset": 3}, 4)


def test_writes_are_all_computed_before_any_is_made_and_skip_what_is_applied() -> None:
    body = json.loads(example_bytes("apple_user_associated"))
    users = body["notification"]["associatedUsers"]
    users.append({**users[0], "clientUserId": "client-200"})
    n = apple(body)
    done = {"offset": 7, "clientUserId": "client-100"}
    stored = {("user_status", table_key(ACME_UID, "client-100")): done}
    reads: list[tuple[str, str]] = []

    def read(table: str, key: str) -> Any:
        reads.append((table, key))
        return stored.get((table, key))

    writes = writes_for(n, 7, AT, read)
    assert [(w.table, w.key, w.value["offset"]) for w in writes] == [
        ("user_status", table_key(ACME_UID, "client-200"), 7)
    ]
    assert len(reads) == 2


@pytest.mark.parametrize(("old", "delta"), [(2**63 - 1, 1), (-(2**63), -1)])
def test_an_asset_count_leaving_signed_64_bits_cannot_be_applied(old: int, delta: int) -> None:
    body = json.loads(example_bytes("apple_asset_count"))
    body["notification"]["countDelta"] = delta
    stored = {"count": old, "offset": 1}
    with pytest.raises(CannotApplyError) as caught:
        writes_for(apple(body), 2, AT, lambda table, key: stored)
    assert caught.value.reason == (
        f"cannot-apply: the asset count would be {old + delta}, beyond signed 64 bits"
    )
    assert writes_for(apple(body), 1, AT, lambda table, key: stored) == []  # applied already
