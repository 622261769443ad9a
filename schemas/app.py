"""App notifications sent to an app's notification URL (Oracle AMS style), JWT-authenticated.

{"eventId", "eventType", "data": {"notificationType", "notificationData": {...}}}.
Every event names the tenant it is about in data.notificationData.tenantId: that is the
organization key, the way uId is for Apple notifications. TENANT_REST_URL_CHANGE is the
one event type documented; others are valid envelopes routed to the catch-all topic.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict

from schemas.apple import NonEmptyStr


class AppModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class AppNotificationData(AppModel):
    tenantId: NonEmptyStr


class TenantRestUrlChangeData(AppNotificationData):
    tenantRestUrl: NonEmptyStr
    productUuid: NonEmptyStr


class AppEventData(AppModel):
    notificationType: NonEmptyStr
    notificationData: AppNotificationData


class TenantRestUrlChangeEventData(AppEventData):
    notificationType: Literal["TENANT_REST_URL_CHANGE"]
    notificationData: TenantRestUrlChangeData


class AppNotification(AppModel):
    eventId: NonEmptyStr
    eventType: NonEmptyStr
    data: AppEventData

    @property
    def tenant_id(self) -> str:
        return self.data.notificationData.tenantId


class TenantRestUrlChangeNotification(AppNotification):
    eventType: Literal["TENANT_REST_URL_CHANGE"]
    data: TenantRestUrlChangeEventData


def parse_app(raw: bytes | str) -> AppNotification:
    """Validate a raw app-notification body; TENANT_REST_URL_CHANGE gets its typed model."""
    event = AppNotification.model_validate_json(raw)
    if event.eventType == "TENANT_REST_URL_CHANGE":
        return TenantRestUrlChangeNotification.model_validate_json(raw)
    return event
