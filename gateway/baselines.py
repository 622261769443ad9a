"""POST /v1/asset-baselines: a tenant's asset-count baseline (schemas.baseline) into Kafka.

The same checks, in the same order, as POST /v1/notifications (gateway.routes): 401 bearer
token, 429 rate, 415 content type, 413 size, 400 JSON, 422 schema, 403 a uId that is not
the tenant's, 503 unless Kafka stored it. The record is the body byte for byte on
raw-notifications, keyed by its uId like that organization's notifications: one
partition holds both, so the worker applies the baseline exactly between the deltas the
gateway accepted before it and those it accepted after. Its `source` header is
"baseline", which the worker applies to the asset counts and forwards nowhere.

An ordinary FastAPI route: baselines are rare (an import per organization now and then),
so the hot path's shortcuts (gateway.middleware) buy nothing here.
"""

import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from gateway.deps import GatewayDep, bearer_caller
from gateway.errors import ForbiddenError, SchemaViolationError, problem_response
from gateway.intake import Incoming, check_content_type, parse_body, read_body
from gateway.openapi import COMPONENT, PROBLEMS
from gateway.routes import _accepted, _publish, _short
from schemas import headers as h
from schemas.baseline import parse_baseline

BASELINE_PATH = "/v1/asset-baselines"
SOURCE_BASELINE = h.SOURCE_BASELINE.encode()
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000


class AcceptedBaseline(BaseModel):
    status: Literal["accepted"] = "accepted"
    baselineId: str


REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"$ref": COMPONENT.format(model="AssetBaseline")},
            "examples": {
                "one asset": {
                    "value": {
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
            },
        }
    },
}

RESPONSES: dict[int | str, dict[str, Any]] = {202: {"description": "Stored in Kafka."}}
RESPONSES.update(PROBLEMS)
baseline_router = APIRouter()


@baseline_router.post(
    BASELINE_PATH,
    summary="Import an asset-count baseline (Apple's Get Assets answer)",
    description="The body is Apple's Get Assets answer for one uId, with `baselineId` and "
    "`takenAt` added; the uId must be one of the token's tenant's uids. 202 means it is "
    "stored, unchanged, on raw-notifications (acks=all), keyed by uId, ordered with that "
    "organization's notifications. The asset-count view then answers each listed asset's "
    "totalCount plus the countDelta values accepted after it.",
    status_code=202,
    response_model=AcceptedBaseline,
    responses=RESPONSES,
    openapi_extra={"requestBody": REQUEST_BODY, "security": [{"tenantToken": []}]},
)
async def post_baseline(request: Request, gateway: GatewayDep) -> Response:
    incoming = Incoming.of(
        request.scope, request.receive, request.state.request_id, time.time_ns() // 1_000_000
    )
    try:
        caller = await bearer_caller(incoming, gateway, BASELINE_PATH)
        check_content_type(incoming.header(b"content-type"))
        body = await read_body(incoming, gateway.settings.max_body_bytes)
        baseline = parse_body(parse_baseline, body)
        _check_taken_at(baseline.takenAt, incoming.received_at_ms)
        if not caller.directory.owns_uid(caller.tenant, baseline.uId):
            raise ForbiddenError(
                f"this token may not send baselines for uId {_short(baseline.uId)}"
            )
        await _publish(incoming, gateway, caller, baseline.uId, body, SOURCE_BASELINE)
    except ClientDisconnect:  # nobody reads the answer; counted, not logged as a crash
        return problem_response(400, "the client left before its body arrived")
    finally:
        request.state.tenant = incoming.tenant  # for the request metrics
    return _accepted("baselineId", baseline.baselineId)


def _check_taken_at(taken_at_ms: int, now_ms: int) -> None:
    """A snapshot from the future would outrank every later one (the worker ignores a
    baseline no newer than the one it holds): refused, beyond some clock skew."""
    if taken_at_ms > now_ms + MAX_CLOCK_SKEW_MS:
        message = "takenAt is in the future: check the MDM's clock"
        error = {"field": "takenAt", "message": message, "type": "value_error"}
        raise SchemaViolationError(f"takenAt: {message}", extra={"errors": [error]})
