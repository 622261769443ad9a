"""The HTTP endpoints. Checks run in a fixed order, so a sender always hears the first
thing to fix: 401 credentials, 429 rate, 415 content type, 413 size, 400 JSON, 422 schema,
403 organization not the caller's, then 503 if Kafka does not store it. (A JWT gets 503
in place of the 429 check when the shared replay store does not answer: gateway.sharedstate.)

The tenant's rate is charged as soon as the caller is authenticated, whatever the request
turns out to be: a refused body costs the event loop as much as an accepted one (reading
and parsing it are the cost), so invalid requests count against the tenant that sends them.

The record on raw-notifications is the request body, byte for byte, keyed by the
organization (uId or tenantId) so one organization's notifications stay in order in one
partition; the headers (schemas.headers) say who sent it, when, and its sha256, and
carry the sender's W3C traceparent when it sent a valid one (gateway.tracecontext).

The notification and baseline handlers are entries of the table in gateway.endpoints, which
gateway.middleware serves and gateway.openapi documents. The service endpoints are
ordinary FastAPI routes.
"""

import hashlib
import json
import time

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.deps import (
    Caller,
    Gateway,
    GatewayDep,
    bearer_caller,
    jwt_caller,
)
from gateway.errors import (
    ForbiddenError,
    KafkaUnavailableError,
    PublishError,
    SchemaViolationError,
    error_response,
)
from gateway.intake import NotificationRequest, check_content_type, parse_body, read_body
from gateway.tracecontext import valid_traceparent
from schemas import headers as h
from schemas.app import parse_app
from schemas.apple import parse_apple
from schemas.baseline import parse_baseline

SOURCE_APPLE, SOURCE_APP = h.SOURCE_APPLE.encode(), h.SOURCE_APP.encode()
SOURCE_BASELINE = h.SOURCE_BASELINE.encode()
APPLE_PATH = "/v1/notifications"
APP_PATH = "/v1/app-notifications"
BASELINE_PATH = "/v1/asset-baselines"
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000


async def post_notification(request: NotificationRequest, gateway: Gateway) -> Response:
    """Bearer token of a tenant; the body's uId must be one of the tenant's uids."""
    caller = await bearer_caller(request, gateway, APPLE_PATH)
    check_content_type(request.header(b"content-type"))
    body = await read_body(request, gateway.settings.max_body_bytes)
    notification = parse_body(parse_apple, body)
    uid = notification.uId
    if not caller.directory.owns_uid(caller.tenant, uid):
        raise ForbiddenError(f"this token may not send notifications for uId {_short(uid)}")
    await _publish(request, gateway, caller, uid, body, SOURCE_APPLE)
    return _accepted("notificationId", notification.notificationId)


async def post_app_notification(request: NotificationRequest, gateway: Gateway) -> Response:
    """JWT of a configured issuer; data.notificationData.tenantId must be its tenant's."""
    caller = await jwt_caller(request, gateway, APP_PATH)
    try:
        check_content_type(request.header(b"content-type"))
        body = await read_body(request, gateway.settings.max_body_bytes)
        event = parse_body(parse_app, body)
        tenant_id = event.tenant_id
        if not caller.directory.owns_tenant_id(caller.tenant, tenant_id):
            raise ForbiddenError(f"this token may not send events for tenantId {_short(tenant_id)}")
        await _publish(request, gateway, caller, tenant_id, body, SOURCE_APP)
    except BaseException:
        if caller.ticket is not None:  # not accepted: the sender may retry with the token
            await gateway.admission.release(caller.ticket)
        raise
    return _accepted("eventId", event.eventId)


async def post_baseline(request: NotificationRequest, gateway: Gateway) -> Response:
    """Bearer token of a tenant; an asset-count baseline (Apple's Get Assets answer) for one
    of its uids. Keyed by uId like that organization's notifications: one partition holds
    both, so the worker applies the baseline exactly between the deltas accepted before it
    and those accepted after. Its `source` header is "baseline", which the worker applies
    to the asset counts and forwards nowhere."""
    caller = await bearer_caller(request, gateway, BASELINE_PATH)
    check_content_type(request.header(b"content-type"))
    body = await read_body(request, gateway.settings.max_body_bytes)
    baseline = parse_body(parse_baseline, body)
    _check_taken_at(baseline.takenAt, request.received_at_ms)
    if not caller.directory.owns_uid(caller.tenant, baseline.uId):
        raise ForbiddenError(f"this token may not send baselines for uId {_short(baseline.uId)}")
    await _publish(request, gateway, caller, baseline.uId, body, SOURCE_BASELINE)
    return _accepted("baselineId", baseline.baselineId)


def _check_taken_at(taken_at_ms: int, now_ms: int) -> None:
    """A snapshot from the future would outrank every later one (the worker ignores a
    baseline no newer than the one it holds): refused, beyond some clock skew."""
    if taken_at_ms > now_ms + MAX_CLOCK_SKEW_MS:
        message = "takenAt is in the future: check the MDM's clock"
        error = {"field": "takenAt", "message": message, "type": "value_error"}
        raise SchemaViolationError(f"takenAt: {message}", extra={"errors": [error]})


service_router = APIRouter()


@service_router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@service_router.get(
    "/readyz",
    summary="The producer can store notifications in Kafka (503 otherwise)",
    responses={503: {"description": "Kafka is unreachable, or raw-notifications is missing."}},
)
async def readyz(request: Request, gateway: GatewayDep) -> Response:
    publisher = gateway.publisher
    if publisher.ready():
        gateway.readiness.observe(True, "")
        return Response(b'{"status":"ready"}', media_type="application/json")
    reason = publisher.not_ready_reason()
    gateway.readiness.observe(False, reason)
    request.state.logged = True  # by gateway.readiness, when it changed
    retry = gateway.settings.unavailable_retry_after_s
    return error_response(KafkaUnavailableError(reason, retry), request.state.request_id)


@service_router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(gateway: GatewayDep) -> Response:
    return Response(gateway.metrics.render(), media_type=gateway.metrics.content_type)


async def _publish(
    request: NotificationRequest,
    gateway: Gateway,
    caller: Caller,
    key: str,
    body: bytes,
    source: bytes,
) -> None:
    tenant = caller.tenant
    headers = [
        (h.TENANT, tenant.id.encode()),
        (h.SOURCE, source),
        (h.RECEIVED_AT, b"%d" % request.received_at_ms),
        (h.CONTENT_SHA256, hashlib.sha256(body).hexdigest().encode()),
        (h.REQUEST_ID, request.request_id.encode()),
    ]
    trace = valid_traceparent(request.headers.get(b"traceparent"))
    if trace is not None:
        headers.append((h.TRACEPARENT, trace))
    metrics = gateway.metrics
    started = time.perf_counter()
    try:
        await gateway.publisher.publish(gateway.settings.raw_topic, _utf8(key), body, headers)
    except PublishError:
        metrics.publish_failed.observe(time.perf_counter() - started)
        raise
    metrics.publish_acked.observe(time.perf_counter() - started)


def _utf8(value: str) -> bytes:
    try:
        return value.encode()
    except UnicodeEncodeError:
        raise SchemaViolationError("the organization id is not valid Unicode") from None


def _short(value: str) -> str:
    return json.dumps(value[:64])


def _accepted(field: str, value: str) -> Response:
    document = {"status": "accepted", field: value}
    try:
        content = orjson.dumps(document)
    except orjson.JSONEncodeError:  # lone surrogates: json escapes them
        content = json.dumps(document).encode()
    return Response(content, 202, media_type="application/json")
