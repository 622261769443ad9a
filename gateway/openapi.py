"""The OpenAPI document (/openapi.json, /docs), request bodies from the schemas models.

The notification endpoints are plain Starlette routes that read their bodies themselves
(exact bytes, size limit, error mapping), so FastAPI knows nothing about them: their
operations, with the schemas models as request bodies, are written here.
"""

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter

from schemas.app import AppNotification, TenantRestUrlChangeNotification
from schemas.apple import AppleNotification
from schemas.baseline import AssetBaseline

COMPONENT = "#/components/schemas/{model}"


class AcceptedNotification(BaseModel):
    status: Literal["accepted"] = "accepted"
    notificationId: str


class AcceptedEvent(BaseModel):
    status: Literal["accepted"] = "accepted"
    eventId: str


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    requestId: str | None = None
    errors: list[FieldError] | None = None


def _ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENT.format(model=name)}


def _body(schema: str, examples: dict[str, Any]) -> dict[str, Any]:
    content = {"schema": _ref(schema), "examples": {k: {"value": v} for k, v in examples.items()}}
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


APPLE_BODY = _body(
    "AppleNotification",
    {
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
    },
)
APP_BODY = _body(
    "AppNotificationBody",
    {
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
    },
)

_PROBLEM_STATUSES = {
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
PROBLEMS = {
    str(status): {
        "description": text,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }
    for status, text in _PROBLEM_STATUSES.items()
}
SECURITY_SCHEMES = {
    "tenantToken": {"type": "http", "scheme": "bearer", "description": "A tenant's token."},
    "appJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Signed by an app issuer of the tenants file (HS256, RS256, ES256).",
    },
}


def _operation(
    summary: str, description: str, body: dict[str, Any], accepted: str, security: str
) -> dict[str, Any]:
    answer = {"application/json": {"schema": _ref(accepted)}}
    return {
        "summary": summary,
        "description": description,
        "security": [{security: []}],
        **body,
        "responses": {"202": {"description": "Stored in Kafka.", "content": answer}, **PROBLEMS},
    }


NOTIFICATION_PATHS = {
    "/v1/notifications": {
        "post": _operation(
            "Receive an Apps and Books notification",
            "The body's uId must be one of the token's tenant's uids. 202 means the body is "
            "stored, unchanged, on raw-notifications (acks=all), keyed by uId.",
            APPLE_BODY,
            "AcceptedNotification",
            "tenantToken",
        )
    },
    "/v1/app-notifications": {
        "post": _operation(
            "Receive an app notification",
            "data.notificationData.tenantId must belong to the issuer's tenant. 202 means the "
            "body is stored, unchanged, on raw-notifications (acks=all), keyed by tenantId.",
            APP_BODY,
            "AcceptedEvent",
            "appJwt",
        )
    },
}


def _components() -> dict[str, Any]:
    found: dict[str, Any] = {}
    # Unions are not a `type` to mypy; TypeAdapter takes them all the same.
    apple: Any = AppleNotification
    app: Any = TenantRestUrlChangeNotification | AppNotification
    adapters: tuple[tuple[str, TypeAdapter[Any]], ...] = (
        ("AppleNotification", TypeAdapter[Any](apple)),
        ("AppNotificationBody", TypeAdapter[Any](app)),
        ("AssetBaseline", TypeAdapter[Any](AssetBaseline)),  # gateway.baselines
        ("Problem", TypeAdapter[Any](Problem)),
        ("AcceptedNotification", TypeAdapter[Any](AcceptedNotification)),
        ("AcceptedEvent", TypeAdapter[Any](AcceptedEvent)),
    )
    for name, adapter in adapters:
        schema = adapter.json_schema(ref_template=COMPONENT)
        found.update(schema.pop("$defs", {}))
        found.setdefault(name, schema)
    return found


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            document["paths"] = {**NOTIFICATION_PATHS, **document.get("paths", {})}
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).update(_components())
            components["securitySchemes"] = SECURITY_SCHEMES
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
