"""parse_app beyond the document: unknown event types and what it refuses."""

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import app
from schemas.app import parse_app
from tests.examples import example


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def error_locs(raw: bytes) -> set[tuple[int | str, ...]]:
    with pytest.raises(ValidationError) as caught:
        parse_app(raw)
    return {error["loc"] for error in caught.value.errors()}


def test_unknown_event_type_is_a_generic_notification_keeping_everything() -> None:
    body = {
        "eventId": "e-1",
        "eventType": "TENANT_DELETED",
        "data": {"notificationType": "TENANT_DELETED", "notificationData": {"tenantId": "7"}},
        "extra": [1, 2],
    }
    parsed = parse_app(encode(body))
    assert type(parsed) is app.AppNotification
    assert parsed.tenant_id == "7"
    assert parsed.model_extra == {"extra": [1, 2]}
    assert json.loads(parsed.model_dump_json()) == body


@pytest.mark.parametrize(
    "path",
    [
        ("eventId",),
        ("eventType",),
        ("data",),
        ("data", "notificationType"),
        ("data", "notificationData"),
        ("data", "notificationData", "tenantId"),
        ("data", "notificationData", "tenantRestUrl"),
        ("data", "notificationData", "productUuid"),
    ],
)
def test_missing_required_field_is_named(path: tuple[str, ...]) -> None:
    body = example("app_tenant_rest_url_change")
    parent: Any = body
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    assert error_locs(encode(body)) == {path}


def test_wrongly_typed_tenant_id_is_named() -> None:
    body = example("app_tenant_rest_url_change")
    body["data"]["notificationData"]["tenantId"] = 312022
    assert error_locs(encode(body)) == {("data", "notificationData", "tenantId")}


def test_event_type_and_notification_type_must_agree_for_a_known_type() -> None:
    body = example("app_tenant_rest_url_change")
    body["data"]["notificationType"] = "SOMETHING_ELSE"
    assert error_locs(encode(body)) == {("data", "notificationType")}


def test_a_body_that_is_not_strict_json_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_app(b'{"eventId": Infinity}')
    assert [error["type"] for error in caught.value.errors()] == ["json_invalid"]
