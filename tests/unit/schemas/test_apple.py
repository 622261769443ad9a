"""parse_apple beyond the documents: unknown types, failures, and what it refuses."""

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import apple
from schemas.apple import parse_apple
from tests.examples import example


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def error_locs(raw: bytes | str) -> set[tuple[int | str, ...]]:
    with pytest.raises(ValidationError) as caught:
        parse_apple(raw)
    return {error["loc"] for error in caught.value.errors()}


@pytest.mark.parametrize(
    "kind", ["SUBSCRIPTION_MANAGEMENT", "SUBSCRIPTION_COUNT", "UNLIMITED_ASSET", "MADE_UP_TYPE"]
)
def test_unknown_type_is_a_generic_envelope_keeping_everything(kind: str) -> None:
    body = {
        "notificationId": "id-1",
        "notificationType": kind,
        "notification": {"anything": [1, {"nested": True}], "count": 3},
        "uId": "2049025000431439",
        "addedByApple": {"version": 2},
    }
    parsed = parse_apple(encode(body))
    assert type(parsed) is apple.NotificationEnvelope
    assert parsed.notificationType == kind
    assert parsed.notification == body["notification"]
    assert parsed.model_extra == {"addedByApple": {"version": 2}}
    assert json.loads(parsed.model_dump_json()) == body


def test_extra_fields_are_kept_on_known_types_at_every_level() -> None:
    body = example("apple_asset_management_revoke")
    body["sentAt"] = 1700000000
    body["notification"]["batch"] = "b-1"
    body["notification"]["assignments"][0]["reason"] = "refund"
    parsed = parse_apple(encode(body))
    assert isinstance(parsed, apple.AssetManagementEnvelope)
    assert parsed.model_extra == {"sentAt": 1700000000}
    assert parsed.notification.model_extra == {"batch": "b-1"}
    assert parsed.notification.assignments[0].model_extra == {"reason": "refund"}


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("apple_asset_management_associate", apple.AssetManagementEnvelope),
        ("apple_user_management_create", apple.UserManagementEnvelope),
    ],
)
def test_failure_results_carry_the_error(
    name: str, model: type[apple.NotificationEnvelope]
) -> None:
    body = example(name)
    body["notification"]["result"] = "FAILURE"
    body["notification"]["error"] = {"errorMessage": "Registered user not found", "errorNumber": 9}
    for listed in ("assignments", "users"):
        body["notification"].pop(listed, None)  # a failed request may list nothing
    parsed = parse_apple(encode(body))
    assert isinstance(parsed, model)
    notification = parsed.notification
    assert isinstance(notification, apple.ResultMixin)
    assert notification.succeeded is False
    assert notification.error == apple.NotificationError(
        errorMessage="Registered user not found", errorNumber=9
    )


def test_an_unknown_result_is_accepted_and_is_not_a_success() -> None:
    body = example("apple_user_management_retire")
    body["notification"]["result"] = "PARTIAL"
    body["notification"]["type"] = "MERGE"
    parsed = parse_apple(encode(body))
    assert isinstance(parsed, apple.UserManagementEnvelope)
    assert parsed.notification.type == "MERGE"
    assert not parsed.notification.succeeded


@pytest.mark.parametrize("field", ["notificationId", "notificationType", "notification", "uId"])
def test_missing_envelope_field_is_named(field: str) -> None:
    body = example("apple_asset_count")
    del body[field]
    assert error_locs(encode(body)) == {(field,)}


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("apple_asset_count", ("notification", "countDelta")),
        ("apple_asset_count", ("notification", "adamId")),
        ("apple_asset_management_revoke", ("notification", "type")),
        ("apple_asset_management_revoke", ("notification", "result")),
        ("apple_user_management_update", ("notification", "users", 0, "clientUserId")),
        ("apple_user_associated", ("notification", "associatedUsers")),
    ],
)
def test_missing_required_field_is_named(name: str, path: tuple[str | int, ...]) -> None:
    body = example(name)
    parent: Any = body
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    assert error_locs(encode(body)) == {path}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("countDelta", "12"),  # strict: a numeric string is not an int
        ("countDelta", 12.0),
        ("countDelta", True),
        ("countDelta", None),
        ("adamId", 408709785),
        ("adamId", ""),
        ("pricingParam", ["STDQ"]),
    ],
)
def test_wrongly_typed_asset_count_field_is_named(field: str, value: Any) -> None:
    body = example("apple_asset_count")
    body["notification"][field] = value
    assert error_locs(encode(body)) == {("notification", field)}


@pytest.mark.parametrize(
    ("field", "value"),
    [("uId", 2049025000431439), ("notificationId", None), ("notification", [])],
)
def test_wrongly_typed_envelope_field_is_named(field: str, value: Any) -> None:
    body = example("apple_test_notification")
    body[field] = value
    assert error_locs(encode(body)) == {(field,)}


def test_strict_countdelta_is_still_accepted_as_an_int() -> None:
    body = example("apple_asset_count")
    body["notification"]["countDelta"] = 12
    parsed = parse_apple(encode(body))
    assert isinstance(parsed, apple.AssetCountEnvelope)
    assert parsed.notification.countDelta == 12


@pytest.mark.parametrize(
    "holder", [{}, {"serialNumber": None}, {"clientUserId": ""}, {"serialNumber": None, "x": 1}]
)
def test_an_assignment_needs_a_serial_number_or_a_client_user_id(holder: dict[str, Any]) -> None:
    body = example("apple_asset_management_disassociate")
    body["notification"]["assignments"] = [
        {"adamId": "408709785", "pricingParam": "STDQ", **holder}
    ]
    locs = error_locs(encode(body))
    assert locs and all(loc[:3] == ("notification", "assignments", 0) for loc in locs)


def test_an_assignment_may_name_both_holders() -> None:
    both = {"adamId": "1", "pricingParam": "STDQ", "serialNumber": "s", "clientUserId": "c"}
    assert apple.Assignment.model_validate(both).serialNumber == "s"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"\xff\xfe{}",
        '{"notificationId": "\ud800"}',
        b'{"notification": {"x": NaN}}',
        b'{"notificationId": "a", "notificationType": "X", "notification": {"x": 1e400}}',
        b"[" * 10_000 + b"]" * 10_000,
        b'{"n": ' + b"9" * 5000 + b"}",
    ],
    ids=["empty", "text", "not-utf8", "surrogate", "nan", "overflow", "deep", "huge-int"],
)
def test_a_body_that_is_not_strict_json_is_a_validation_error(raw: bytes | str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_apple(raw)
    assert [error["type"] for error in caught.value.errors()] == ["json_invalid"]


def test_a_json_value_that_is_not_an_object_is_a_validation_error() -> None:
    for raw in (b"[]", b"1", b'"x"', b"null"):
        assert error_locs(raw) == {()}
