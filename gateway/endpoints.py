"""The notification endpoints (and the baseline import), in one table: gateway.middleware
dispatches it and gateway.openapi documents it, so what is served and what is described
cannot drift.

They are not FastAPI routes because notifications are the hot path: served ahead of
FastAPI's middleware stack and router, which would otherwise be a large share of a
request's CPU. Every other endpoint is an ordinary FastAPI route and is documented by FastAPI, next
to these, in the same /openapi.json.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from starlette.responses import Response

from gateway.deps import Gateway
from gateway.intake import NotificationRequest
from gateway.routes import (
    APP_PATH,
    APPLE_PATH,
    BASELINE_PATH,
    post_app_notification,
    post_baseline,
    post_notification,
)
from schemas.app import AppNotification, TenantRestUrlChangeNotification
from schemas.apple import AppleNotification
from schemas.baseline import AssetBaseline

Handler = Callable[[NotificationRequest, Gateway], Awaitable[Response]]

# Every problem status a notification endpoint can answer (gateway.errors), with what it
# means to a sender.
PROBLEM_STATUSES: Mapping[int, str] = {
    400: "The body is not JSON, or a key is repeated.",
    401: "Missing or invalid credentials (WWW-Authenticate: Bearer).",
    403: "The organization (uId / tenantId) is not the caller's.",
    408: "The request head or body did not arrive in time; the connection is closed.",
    413: "The body is over the size limit.",
    415: "The body is not application/json.",
    422: "The JSON is not a valid notification; `errors` names the fields.",
    429: "The tenant's rate limit is exceeded (every authenticated request counts, whatever "
    "its answer); see Retry-After.",
    431: "The request line and headers are too large, or too many; the connection is closed.",
    503: "Kafka did not store the notification (unreachable, or the raw topic does not exist "
    "yet), or, for a JWT, the shared replay store did not answer; retry after Retry-After.",
}


class AcceptedNotification(BaseModel):
    status: Literal["accepted"] = "accepted"
    notificationId: str


class AcceptedEvent(BaseModel):
    status: Literal["accepted"] = "accepted"
    eventId: str


class AcceptedBaseline(BaseModel):
    status: Literal["accepted"] = "accepted"
    baselineId: str


@dataclass(frozen=True)
class Endpoint:
    """One notification endpoint: what serves it, and its OpenAPI operation."""

    path: str
    method: str
    handler: Handler
    summary: str
    description: str
    security: str  # a scheme of gateway.openapi.SECURITY_SCHEMES
    body_name: str  # the request body's name under components/schemas
    body_model: Any  # its pydantic model, or a union of models
    examples: Mapping[str, Any]
    accepted: type[BaseModel]  # the 202 answer's body
    problems: Mapping[int, str] = field(default_factory=lambda: PROBLEM_STATUSES)


APPLE_EXAMPLES = {
    "asset count": {
        "notification": {"adamId": "408709785", "countDelta": -12, "pricingParam": "STDQ"},
        "notificationId": "4a7801be-53f0-42e1-9505-81c0d1dc9da3",
        "notificationType": "ASSET_COUNT",
        "uId": "2049025000431439",
    },
    "test notification": {
        "notification": {},
        "notificationId": "792e327f-63ea-4658-9aec-f16f4327e3a8",
        "notificationType": "TEST_NOTIFICATION",
        "uId": "2049025000431439",
    },
}
APP_EXAMPLES = {
    "tenant REST URL change": {
        "eventId": "2228f731-7b81-4d5b-a159-e0e3a8b9963c",
        "eventType": "TENANT_REST_URL_CHANGE",
        "data": {
            "notificationType": "TENANT_REST_URL_CHANGE",
            "notificationData": {
                "tenantId": "312022",
                "tenantRestUrl": "http://www.tru1.com/test",
                "productUuid": "c9ade037-9b06-4b9c-85dd-473adc5951c8",
            },
        },
    }
}

BASELINE_EXAMPLES = {
    "one asset": {
        "baselineId": "6a1e6c3e-2f0b-4a47-9d55-0c1c7b1e2a10",
        "takenAt": 1764587700000,
        "uId": "2049025000431439",
        "assets": [
            {
                "adamId": "408709785",
                "assignedCount": 5000,
                "availableCount": 10000,
                "pricingParam": "STDQ",
                "productType": "App",
                "totalCount": 15000,
            }
        ],
    }
}

NOTIFICATION_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        path=APPLE_PATH,
        method="POST",
        handler=post_notification,
        summary="Receive an Apps and Books notification",
        description="The body's uId must be one of the token's tenant's uids. 202 means the "
        "body is stored, unchanged, on raw-notifications (acks=all), keyed by uId.",
        security="tenantToken",
        body_name="AppleNotification",
        body_model=AppleNotification,
        examples=APPLE_EXAMPLES,
        accepted=AcceptedNotification,
    ),
    Endpoint(
        path=APP_PATH,
        method="POST",
        handler=post_app_notification,
        summary="Receive an app notification",
        description="data.notificationData.tenantId must belong to the issuer's tenant. 202 "
        "means the body is stored, unchanged, on raw-notifications (acks=all), keyed by "
        "tenantId.",
        security="appJwt",
        body_name="AppNotificationBody",
        body_model=TenantRestUrlChangeNotification | AppNotification,
        examples=APP_EXAMPLES,
        accepted=AcceptedEvent,
    ),
    Endpoint(
        path=BASELINE_PATH,
        method="POST",
        handler=post_baseline,
        summary="Import an asset-count baseline (Apple's Get Assets answer)",
        description="The body is Apple's Get Assets answer for one uId, with `baselineId` and "
        "`takenAt` added; the uId must be one of the token's tenant's uids. 202 means it is "
        "stored, unchanged, on raw-notifications (acks=all), keyed by uId, ordered with that "
        "organization's notifications. The asset-count view then answers each listed asset's "
        "totalCount plus the countDelta values accepted after it.",
        security="tenantToken",
        body_name="AssetBaseline",
        body_model=AssetBaseline,
        examples=BASELINE_EXAMPLES,
        accepted=AcceptedBaseline,
    ),
)
