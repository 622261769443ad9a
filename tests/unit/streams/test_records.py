"""A raw-notifications record, and its decoding by the `source` header."""

import hashlib
import json
from types import SimpleNamespace
from typing import Any

import pytest

from streams.errors import InvalidBodyError, KeyMismatchError, UnknownSourceError
from streams.records import SourceRecord, decode, identify, source_record
from tests.unit.streams.support import ACME_TENANT_ID, ACME_UID, example_bytes


def message(value: bytes, headers: Any, key: bytes | None = ACME_UID.encode()) -> Any:
    return SimpleNamespace(
        key=key,
        value=value,
        headers=headers,
        topic="raw-notifications",
        partition=3,
        offset=41,
        timestamp=1_700_000_000.5,
    )


def record(
    value: bytes, source: str | None = "apple", key: bytes | None = ACME_UID.encode()
) -> SourceRecord:
    headers = [("source", source.encode())] if source is not None else []
    return source_record(message(value, [*headers, ("received-at", b"1700000000123")], key))


def test_incoming_keeps_bytes_position_and_computes_the_sha256() -> None:
    body = example_bytes("apple_asset_count")
    got = source_record(
        message(
            body,
            [
                ("source", b"apple"),
                ("received-at", b"1700000000123"),
                ("content-sha256", b"not-trusted"),
            ],
        )
    )
    assert got.value == body and got.key == ACME_UID.encode()
    assert got.sha256 == hashlib.sha256(body).hexdigest()
    assert got.received_at_ms == 1_700_000_000_123
    assert got.position == "raw-notifications/3/41"
    assert got.header("source") == b"apple" and got.header("nope") is None


@pytest.mark.parametrize("received", [None, b"", b"soon", b"-5", b"99999999999999999"])
def test_received_at_falls_back_to_the_record_time(received: bytes | None) -> None:
    headers = (
        {"source": b"apple"} if received is None else {"source": b"apple", "received-at": received}
    )
    got = source_record(message(b"{}", headers))
    assert got.received_at_ms == 1_700_000_000_500
    assert dict(got.headers)["source"] == b"apple"


def test_decode_picks_the_parser_by_source() -> None:
    apple = decode(record(example_bytes("apple_user_associated")))
    assert (apple.source, apple.org, apple.type) == ("apple", ACME_UID, "USER_ASSOCIATED")
    assert apple.id == "90b83144-fb93-4837-9c52-0ae147bdc421"
    app = decode(
        record(example_bytes("app_tenant_rest_url_change"), "app", ACME_TENANT_ID.encode())
    )
    assert (app.source, app.org, app.id) == (
        "app",
        ACME_TENANT_ID,
        "2228f731-7b81-4d5b-a159-e0e3a8b9963c",
    )


@pytest.mark.parametrize("source", [None, "", "mdm", "APPLE"])
def test_missing_or_unknown_source_is_refused(source: str | None) -> None:
    with pytest.raises(UnknownSourceError) as caught:
        decode(record(example_bytes("apple_asset_count"), source))
    assert caught.value.reason.startswith("unknown-source: ")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"garbage", "(body)"),
        (b'{"notificationId": "x"}', "notificationType"),
        (example_bytes("apple_asset_count").replace(b"-12", b'"-12"'), "notification.countDelta"),
        (example_bytes("apple_envelope"), "notification"),
    ],
)
def test_invalid_body_names_the_field(body: bytes, where: str) -> None:
    with pytest.raises(InvalidBodyError) as caught:
        decode(record(body))
    assert caught.value.reason.startswith(f"invalid-body: {where}")


def test_apple_body_is_not_an_app_event() -> None:
    with pytest.raises(InvalidBodyError):
        decode(record(example_bytes("apple_asset_count"), "app"))


@pytest.mark.parametrize("key", [None, b"", b"999", b" 2049025000431439"])
def test_the_key_must_be_the_organization(key: bytes | None) -> None:
    with pytest.raises(KeyMismatchError):
        decode(record(example_bytes("apple_asset_count"), key=key))


def out_of_range(body: bytes) -> bytes:
    return body.replace(b'"countDelta": -12', b'"countDelta": 9223372036854775808')


def test_a_refused_body_with_a_valid_envelope_is_identified() -> None:
    refused = record(out_of_range(example_bytes("apple_asset_count")))
    with pytest.raises(InvalidBodyError):
        decode(refused)
    found = identify(refused)
    assert found is not None
    assert (found.source, found.org, found.type) == ("apple", ACME_UID, "ASSET_COUNT")
    assert found.id == "4a7801be-53f0-42e1-9505-81c0d1dc9da3"
    event = json.loads(example_bytes("app_tenant_rest_url_change"))
    del event["data"]["notificationData"]["tenantRestUrl"]
    app = identify(record(json.dumps(event).encode(), "app", ACME_TENANT_ID.encode()))
    assert app is not None and (app.org, app.type) == (ACME_TENANT_ID, "TENANT_REST_URL_CHANGE")


@pytest.mark.parametrize(
    ("body", "source", "key"),
    [
        (b"garbage", "apple", ACME_UID.encode()),
        (b'{"notificationId": "x", "notificationType": "ASSET_COUNT"}', "apple", b"x"),
        (out_of_range(example_bytes("apple_asset_count")), "mdm", ACME_UID.encode()),
        (out_of_range(example_bytes("apple_asset_count")), "app", ACME_UID.encode()),
        # Another organization's partition: a sighting there could hide its notification.
        (out_of_range(example_bytes("apple_asset_count")), "apple", b"999"),
    ],
)
def test_no_identity_without_a_valid_envelope_source_and_key(
    body: bytes, source: str, key: bytes
) -> None:
    assert identify(record(body, source, key)) is None
