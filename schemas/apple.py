"""Apple Apps and Books for Organizations notifications ("Subscribing to Notifications").

Every notification is an envelope {notificationId, notificationType, notification, uId}.
Known types get a typed model for `notification`; unknown types (Apple adds them over time:
SUBSCRIPTION_MANAGEMENT, SUBSCRIPTION_COUNT, UNLIMITED_ASSET, ...) are still valid envelopes
and keep `notification` as a plain object. Fields a sender adds are kept (extra="allow").

Models are strict: "countDelta": "12" is a type error, not 12, because a sender that sends
the wrong type is broken and should hear about it rather than have us guess. Integers
are bounded to signed 64 bits and strings in length (schemas.bounds): a larger countDelta
or a 100 KB serialNumber is refused too.

Enumerated strings (`type`, `result`) are plain `str`: the documented values are listed
below and in the JSON Schema `examples`, but a value Apple adds later is accepted, not
refused. A consumer must therefore handle values it does not know; `succeeded` is True
only for "SUCCESS".
"""

from typing import Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.bounds import Id, Int64, OptionalId, Text
from schemas.strictjson import load_json

NonEmptyStr = Id  # every identifier: non-empty, bounded (schemas.bounds)

SUCCESS: Final = "SUCCESS"
FAILURE: Final = "FAILURE"
ASSET_MANAGEMENT_TYPES: Final = ("ASSOCIATE", "DISASSOCIATE", "REVOKE")
USER_MANAGEMENT_TYPES: Final = ("CREATE", "UPDATE", "RETIRE")


class AppleModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class NotificationError(AppleModel):
    """The `error` object of a notification whose result is FAILURE."""

    errorMessage: Text | None = None
    errorNumber: Int64 | OptionalId | None = None


class ResultMixin(AppleModel):
    """The outcome of an asynchronous request (associate, create user, ...) Apple reports.

    `result` is required: defaulting a missing one to SUCCESS would count a truncated
    failure as a success. `eventId` is the id the request returned, when Apple sends one.
    """

    eventId: OptionalId | None = None
    result: NonEmptyStr = Field(
        description="SUCCESS or FAILURE; other values are accepted and are not a success.",
        examples=[SUCCESS, FAILURE],
    )
    error: NotificationError | None = None

    @property
    def succeeded(self) -> bool:
        return self.result == SUCCESS


class AssetCountNotification(AppleModel):
    adamId: NonEmptyStr
    countDelta: Int64 = Field(description="Change of the asset count; negative when it drops.")
    pricingParam: NonEmptyStr


class Assignment(AppleModel):
    """One asset assigned to (or removed from) a device serial number or a user."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [holder], "properties": {holder: {"type": "string"}}}
                for holder in ("serialNumber", "clientUserId")
            ]
        }
    )

    adamId: NonEmptyStr
    pricingParam: NonEmptyStr
    serialNumber: NonEmptyStr | None = None
    clientUserId: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _has_a_holder(self) -> "Assignment":
        if self.serialNumber is None and self.clientUserId is None:
            raise ValueError("an assignment needs serialNumber or clientUserId")
        return self


class AssetManagementNotification(ResultMixin):
    type: NonEmptyStr = Field(
        description="ASSOCIATE, DISASSOCIATE or REVOKE; later values are accepted.",
        examples=list(ASSET_MANAGEMENT_TYPES),
    )
    assignments: list[Assignment] = Field(default_factory=list)


class ManagedUser(AppleModel):
    clientUserId: NonEmptyStr
    email: Text | None = None
    inviteCode: OptionalId | None = None
    idHash: OptionalId | None = None
    status: OptionalId | None = Field(
        default=None, examples=["Registered", "Associated", "Retired"]
    )


class UserManagementNotification(ResultMixin):
    type: NonEmptyStr = Field(
        description="CREATE, UPDATE or RETIRE; later values are accepted.",
        examples=list(USER_MANAGEMENT_TYPES),
    )
    users: list[ManagedUser] = Field(default_factory=list)


class UserAssociatedNotification(AppleModel):
    associatedUsers: list[ManagedUser]


class TestNotification(AppleModel):
    """Always an empty object; Apple sends one before it accepts a notification URL."""

    __test__: ClassVar[bool] = False  # not a pytest test class, despite the name


class NotificationEnvelope(AppleModel):
    """The common envelope. `notification` stays untyped here: see `parse_apple`."""

    notificationId: NonEmptyStr = Field(description="Unique per notification; Apple may resend.")
    notificationType: NonEmptyStr = Field(
        description="Selects the model of `notification`; unknown types are accepted."
    )
    notification: dict[str, Any]
    uId: NonEmptyStr = Field(description="The location (organization) the notification is for.")


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
    __test__: ClassVar[bool] = False  # not a pytest test class, despite the name

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

    Raises pydantic.ValidationError, and nothing else, for any input: its errors name the
    offending field (e.g. ("notification", "countDelta")); a body that is not strict JSON
    is one error of type "json_invalid" (see schemas.strictjson).
    """
    data = load_json(raw, NotificationEnvelope.__name__)
    kind = data.get("notificationType") if isinstance(data, dict) else None
    typed = ENVELOPE_BY_TYPE.get(kind) if isinstance(kind, str) else None
    if typed is None:
        return NotificationEnvelope.model_validate(data)
    return typed.model_validate(data)  # the typed envelope checks the envelope fields too
