"""Every JSON example of the reference documents parses into its typed model, values intact."""

import re

import pytest
from pydantic import ValidationError

from schemas import app, apple
from schemas.app import parse_app
from schemas.apple import parse_apple
from tests.examples import EXAMPLES_DIR, example, example_bytes, example_names

ALL_EXAMPLES = {
    "apple_envelope",
    "apple_test_notification",
    "apple_asset_count",
    "apple_asset_management_associate",
    "apple_asset_management_disassociate",
    "apple_asset_management_revoke",
    "apple_user_management_create",
    "apple_user_management_update",
    "apple_user_management_retire",
    "apple_user_associated",
    "app_tenant_rest_url_change",
    "app_jwt_payload",
}
UID = "2049025000431439"


def test_the_stored_examples_are_exactly_the_documents_examples() -> None:
    assert set(example_names()) == ALL_EXAMPLES


def test_the_readme_says_where_each_example_comes_from() -> None:
    readme = (EXAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([\w.]+)\.json` \|", readme, flags=re.MULTILINE))
    assert listed == ALL_EXAMPLES


def test_generic_envelope_is_a_valid_envelope_but_not_a_valid_asset_management() -> None:
    envelope = apple.NotificationEnvelope.model_validate_json(example_bytes("apple_envelope"))
    assert envelope.notificationId == "01654971-0d81-467a-9e62-bf8e15e8dabd"
    assert envelope.notificationType == "ASSET_MANAGEMENT"
    assert envelope.notification == {}
    assert envelope.uId == UID
    # The document elides the body as {...}; an empty ASSET_MANAGEMENT body lacks type/result.
    with pytest.raises(ValidationError) as caught:
        parse_apple(example_bytes("apple_envelope"))
    locs = {e["loc"] for e in caught.value.errors()}
    assert locs == {("notification", "type"), ("notification", "result")}


def test_test_notification() -> None:
    parsed = parse_apple(example_bytes("apple_test_notification"))
    assert isinstance(parsed, apple.TestEnvelope)
    assert isinstance(parsed.notification, apple.TestNotification)
    assert parsed.notificationId == "792e327f-63ea-4658-9aec-f16f4327e3a8"
    assert parsed.uId == UID


def test_asset_count() -> None:
    parsed = parse_apple(example_bytes("apple_asset_count"))
    assert isinstance(parsed, apple.AssetCountEnvelope)
    assert parsed.notification == apple.AssetCountNotification(
        adamId="408709785", countDelta=-12, pricingParam="STDQ"
    )
    assert parsed.notificationId == "4a7801be-53f0-42e1-9505-81c0d1dc9da3"


@pytest.mark.parametrize(
    ("name", "kind", "event_id", "holders"),
    [
        (
            "apple_asset_management_associate",
            "ASSOCIATE",
            "87cbc650-16cc-4f9e-a833-e622f377a9f7",
            [
                ("408709785", "97c42a74-c30e-4172-a65f-6e5a5ba3d477", None),
                ("408709785", "495622d3-76f1-4fd3-8647-3f0365159170", None),
                ("408709785", "eabcbb89-8213-4185-afb4-30cae931ea37", None),
            ],
        ),
        (
            "apple_asset_management_disassociate",
            "DISASSOCIATE",
            "4bd7371e-6482-4933-8e97-c29f25b7f5f5",
            [("408709785", None, "client-100")],
        ),
        (
            "apple_asset_management_revoke",
            "REVOKE",
            "4bd7371e-6482-4933-8e97-c29f25b7f5f5",
            [("408709785", None, "client-100"), ("329103948", None, "client-100")],
        ),
    ],
)
def test_asset_management(
    name: str, kind: str, event_id: str, holders: list[tuple[str, str | None, str | None]]
) -> None:
    parsed = parse_apple(example_bytes(name))
    assert isinstance(parsed, apple.AssetManagementEnvelope)
    notification = parsed.notification
    assert (notification.type, notification.eventId) == (kind, event_id)
    assert notification.succeeded and notification.error is None
    assert [(a.adamId, a.serialNumber, a.clientUserId) for a in notification.assignments] == holders
    assert {a.pricingParam for a in notification.assignments} == {"STDQ"}
    assert parsed.notificationId == example(name)["notificationId"]


@pytest.mark.parametrize(
    ("name", "kind", "status"),
    [
        ("apple_user_management_create", "CREATE", "Registered"),
        ("apple_user_management_update", "UPDATE", "Registered"),
        ("apple_user_management_retire", "RETIRE", "Retired"),
    ],
)
def test_user_management(name: str, kind: str, status: str) -> None:
    parsed = parse_apple(example_bytes(name))
    assert isinstance(parsed, apple.UserManagementEnvelope)
    assert parsed.notification.type == kind
    assert parsed.notification.succeeded
    assert parsed.notification.eventId == "e0def1f8-9158-4343-9c52-8dd32da50b9b"
    assert parsed.notification.users == [
        apple.ManagedUser(
            clientUserId="client-100",
            email="client-100@apple.com",
            inviteCode="f551b37da07146628e8dcbe0111f0364",
            status=status,
        )
    ]
    assert parsed.notificationId == "4c0bbb9b-d5a6-4860-83ef-5cf362783c1e"


def test_user_associated() -> None:
    parsed = parse_apple(example_bytes("apple_user_associated"))
    assert isinstance(parsed, apple.UserAssociatedEnvelope)
    (user,) = parsed.notification.associatedUsers
    assert user.clientUserId == "client-100"
    assert user.idHash == "leSKk3IaE2vk2KLmv2k3/200D3="
    assert user.status == "Associated"
    assert parsed.notificationId == "90b83144-fb93-4837-9c52-0ae147bdc421"


def test_tenant_rest_url_change() -> None:
    parsed = parse_app(example_bytes("app_tenant_rest_url_change"))
    assert isinstance(parsed, app.TenantRestUrlChangeNotification)
    assert parsed.eventId == "2228f731-7b81-4d5b-a159-e0e3a8b9963c"
    assert parsed.tenant_id == "312022"
    data = parsed.data.notificationData
    assert data.tenantRestUrl == "http://www.tru1.com/test"
    assert data.productUuid == "c9ade037-9b06-4b9c-85dd-473adc5951c8"


@pytest.mark.parametrize("name", sorted(n for n in ALL_EXAMPLES if n.startswith("apple_")))
def test_every_apple_example_dumps_and_parses_back_equal(name: str) -> None:
    if name == "apple_envelope":
        parsed: apple.NotificationEnvelope = apple.NotificationEnvelope.model_validate_json(
            example_bytes(name)
        )
    else:
        parsed = parse_apple(example_bytes(name))
    assert type(parsed).model_validate_json(parsed.model_dump_json()) == parsed
