"""App notifications sent to an app's notification URL (Oracle AMS style), JWT-authenticated.

{"eventId", "eventType", "data": {"notificationType", "notificationData": {...}}}.
Every event names the tenant it is about in data.notificationData.tenantId: that is the
organization key, the way uId is for Apple notifications. TENANT_REST_URL_CHANGE is the
one event type documented; others are valid envelopes routed to the catch-all topic.
Models are strict and keep fields the sender adds, like the Apple ones (schemas.apple).
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.apple import NonEmptyStr
from schemas.bounds import NonEmptyText
from schemas.strictjson import load_json


class AppModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class AppNotificationData(AppModel):
    tenantId: NonEmptyStr = Field(description="The organization the event is about.")


class TenantRestUrlChangeData(AppNotificationData):
    tenantRestUrl: NonEmptyText
    productUuid: NonEmptyStr


class AppEventData(AppModel):
    notificationType: NonEmptyStr
    notificationData: AppNotificationData


class TenantRestUrlChangeEventData(AppEventData):
    notificationType: Literal["TENANT_REST_URL_CHANGE"]
    notificationData: TenantRestUrlChangeData


class AppNotification(AppModel):
    eventId: NonEmptyStr = Field(description="Unique per event; the sender may resend it.")
    eventType: NonEmptyStr = Field(
        description="TENANT_REST_URL_CHANGE is documented; other types are accepted."
    )
    data: AppEventData

    @property
    def tenant_id(self) -> str:
        return self.data.notificationData.tenantId


class TenantRestUrlChangeNotification(AppNotification):
    eventType: Literal["TENANT_REST_URL_CHANGE"]
    data: TenantRestUrlChangeEventData


def parse_app(raw: bytes | str) -> AppNotification:
    """Validate a raw app-notification body; TENANT_REST_URL_CHANGE gets its typed model.

    Raises pydantic.ValidationError, and nothing else, for any input (see parse_apple).
    """
    data = load_json(raw, AppNotification.__name__)
    event = AppNotification.model_validate(data)
    if event.eventType == "TENANT_REST_URL_CHANGE":
        return TenantRestUrlChangeNotification.model_validate(data)
    return event
