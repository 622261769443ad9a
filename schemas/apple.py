"""Apple Apps and Books for Organizations notifications ("Subscribing to Notifications").

Every notification is an envelope {notificationId, notificationType, notification, uId}.
Known types get a typed model for `notification`; unknown types (Apple adds them over time:
SUBSCRIPTION_MANAGEMENT, SUBSCRIPTION_COUNT, UNLIMITED_ASSET, ...) are still valid envelopes
and keep `notification` as a plain object. Fields a sender adds are kept (extra="allow").

Models are strict: "countDelta": "12" is a type error, not 12, because a sender that sends
the wrong type is broken and should hear about it rather than have us guess.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]

SUCCESS = "SUCCESS"
FAILURE = "FAILURE"


class AppleModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class NotificationError(AppleModel):
    """The `error` object of a notification whose result is FAILURE."""

    errorMessage: str | None = None
    errorNumber: int | str | None = None


class ResultMixin(AppleModel):
    eventId: str | None = None
    result: Literal["SUCCESS", "FAILURE"] | str = SUCCESS
    error: NotificationError | None = None

    @property
    def succeeded(self) -> bool:
        return self.result == SUCCESS


class AssetCountNotification(AppleModel):
    adamId: NonEmptyStr
    countDelta: int
    pricingParam: NonEmptyStr


class Assignment(AppleModel):
    """One asset assigned to (or removed from) a device serial number or a user."""

    adamId: NonEmptyStr
    pricingParam: NonEmptyStr
    serialNumber: str | None = None
    clientUserId: str | None = None

    @model_validator(mode="after")
    def _has_a_holder(self) -> "Assignment":
        if not self.serialNumber and not self.clientUserId:
            raise ValueError("an assignment needs serialNumber or clientUserId")
        return self


class AssetManagementNotification(ResultMixin):
    type: Literal["ASSOCIATE", "DISASSOCIATE", "REVOKE"] | str
    assignments: list[Assignment] = Field(default_factory=list)


class ManagedUser(AppleModel):
    clientUserId: NonEmptyStr
    email: str | None = None
    inviteCode: str | None = None
    idHash: str | None = None
    status: str | None = None


class UserManagementNotification(ResultMixin):
    type: Literal["CREATE", "UPDATE", "RETIRE"] | str
    users: list[ManagedUser] = Field(default_factory=list)


class UserAssociatedNotification(AppleModel):
    associatedUsers: list[ManagedUser]


class TestNotification(AppleModel):
    """Always an empty object; Apple sends one before it accepts a notification URL."""


class NotificationEnvelope(AppleModel):
    """The common envelope. `notification` stays untyped here: see `parse_apple`."""

    notificationId: NonEmptyStr
    notificationType: NonEmptyStr
    notification: dict[str, Any]
    uId: NonEmptyStr


class AssetCountEnvelope(NotificationEnvelope):
    notificationType: Literal["ASSET_COUNT"]
    notification: AssetCountNotification  # type: ignore[assignment]


class AssetManagementEnvelope(NotificationEnvelope):
    notificationType: Literal["ASSET_MANAGEMENT"]
    notification: AssetManagementNotification  # type: ignore[assignment]


class UserManagementEnvelope(NotificationEnvelope):
    notificationType: Literal["USER_MANAGEMENT"]
    notification: UserManagementNotification  # type: ignore[assignment]


class UserAssociatedEnvelope(NotificationEnvelope):
    notificationType: Literal["USER_ASSOCIATED"]
    notification: UserAssociatedNotification  # type: ignore[assignment]


class TestEnvelope(NotificationEnvelope):
    notificationType: Literal["TEST_NOTIFICATION"]
    notification: TestNotification  # type: ignore[assignment]


ENVELOPE_BY_TYPE: dict[str, type[NotificationEnvelope]] = {
    "ASSET_COUNT": AssetCountEnvelope,
    "ASSET_MANAGEMENT": AssetManagementEnvelope,
    "USER_MANAGEMENT": UserManagementEnvelope,
    "USER_ASSOCIATED": UserAssociatedEnvelope,
    "TEST_NOTIFICATION": TestEnvelope,
}

AppleNotification = (
    AssetCountEnvelope
    | AssetManagementEnvelope
    | UserManagementEnvelope
    | UserAssociatedEnvelope
    | TestEnvelope
    | NotificationEnvelope
)


def parse_apple(raw: bytes | str) -> AppleNotification:
    """Validate a raw JSON body: the envelope first, then the typed model for a known type.

    Raises pydantic.ValidationError whose errors name the offending field
    (e.g. ("notification", "countDelta")).
    """
    envelope = NotificationEnvelope.model_validate_json(raw)
    typed = ENVELOPE_BY_TYPE.get(envelope.notificationType)
    if typed is None:
        return envelope
    return typed.model_validate_json(raw)
