"""The gateway's exceptions and their answers as application/problem+json (RFC 9457).

    GatewayError
    ├── SetupError                  the gateway cannot start (settings, tenants file)
    └── ProblemError                answered to the sender; `status` is the HTTP status
        ├── BadRequestError         400  the body is not (unambiguous) JSON
        ├── AuthenticationError     401  missing or invalid credentials, WWW-Authenticate
        ├── ForbiddenError          403  uId / tenantId not owned by the caller's tenant
        ├── PayloadTooLargeError    413  body over max_body_bytes
        │   └── RecordTooLargeError      ... or over what the broker takes for one record
        ├── UnsupportedMediaTypeError 415  not application/json
        ├── SchemaViolationError    422  valid JSON, not a valid notification
        ├── RateLimitedError        429  the tenant's rate limit, with Retry-After
        ├── PublishError            503  not durably in Kafka, with Retry-After
        │   ├── KafkaUnavailableError    the broker is known to be unreachable: fail fast
        │   └── PublishTimeoutError      no acknowledgement within publish_timeout_s
        └── SharedStateUnavailableError 503  the JWT replay store does not answer

Refused before a request reaches the app (gateway.connections, `problem_message`): 408 a
request too slow to arrive, 431 a request head too large or with too many headers, 503 a
connection over the cap.

Only ProblemError reaches a sender with its detail. `answer_for` is the one mapping from
an exception to its answer, for the notification endpoints and FastAPI's routes alike:
FastAPI's own refusals (404, 405, 422) become problem documents too, and anything else
escaping a route is a bug: it is logged and answered 500 without detail.
"""

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

import orjson
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from gateway.requestlog import note_problem

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_ROUTING_DETAIL = {404: "no such endpoint", 405: "method not allowed on this endpoint"}


def _kebab(name: str) -> str:
    """ "RateLimited" -> "rate-limited", "Method Not Allowed" -> "method-not-allowed"."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "-", name).replace(" ", "-").lower()


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""


class SetupError(GatewayError):
    """Settings or tenants file make it impossible to start."""


class ProblemError(GatewayError):
    """An error answered to the sender as a problem document; `kind` names it in the log
    (RateLimitedError: "rate-limited")."""

    status: ClassVar[int] = 500
    kind: ClassVar[str] = "problem"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind = _kebab(cls.__name__.removesuffix("Error"))

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequestError(ProblemError):
    status = 400


class AuthenticationError(ProblemError):
    """`reason` labels the auth-failure metric; `detail` is what the sender reads."""

    status = 401

    def __init__(self, detail: str, reason: str, *, error: str | None = "invalid_token") -> None:
        challenge = 'Bearer realm="switchboard"'
        if error:
            challenge += f', error="{error}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})
        self.reason = reason


class ForbiddenError(ProblemError):
    status = 403


class PayloadTooLargeError(ProblemError):
    status = 413


class RecordTooLargeError(PayloadTooLargeError):
    pass


class UnsupportedMediaTypeError(ProblemError):
    status = 415


class SchemaViolationError(ProblemError):
    status = 422


class RateLimitedError(ProblemError):
    status = 429

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


class PublishError(ProblemError):
    status = 503

    def __init__(self, detail: str, retry_after_s: int = 30) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


class KafkaUnavailableError(PublishError):
    pass


class PublishTimeoutError(PublishError):
    pass


class SharedStateUnavailableError(ProblemError):
    """A JWT cannot be checked for replay (gateway.sharedstate): refused, to be retried."""

    status = 503

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


def problem_document(
    status: int, detail: str, request_id: str | None = None, extra: dict[str, Any] | None = None
) -> bytes:
    """An RFC 9457 document; `type` is about:blank, so `title` is the status phrase."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if request_id:
        body["requestId"] = request_id
    body.update(extra or {})
    return orjson.dumps(body)


def problem_response(
    status: int,
    detail: str,
    *,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    kind: str | None = None,
    reason: str | None = None,
) -> Response:
    """The answer, and its problem noted for the request's log line (gateway.requestlog);
    `kind` defaults to the status phrase ("method-not-allowed")."""
    note_problem(kind or _kebab(HTTPStatus(status).phrase), detail, reason)
    document = problem_document(status, detail, request_id, extra)
    return Response(document, status, headers=headers, media_type=PROBLEM_JSON)


def problem_message(status: int, detail: str) -> bytes:
    """A whole HTTP/1.1 answer that closes the connection, for refusals made before any
    request reached the app (gateway.connections)."""
    document = problem_document(status, detail)
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        f"content-type: {PROBLEM_JSON}\r\ncontent-length: {len(document)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + document


def error_response(error: ProblemError, request_id: str | None = None) -> Response:
    return problem_response(
        error.status,
        error.detail,
        request_id=request_id,
        headers=error.headers,
        extra=error.extra,
        kind=error.kind,
        reason=error.reason if isinstance(error, AuthenticationError) else None,
    )


def answer_for(exc: Exception, request_id: str | None, path: str) -> Response:
    """The problem document answering `exc`, raised while serving `path`."""
    if isinstance(exc, ProblemError):
        return error_response(exc, request_id)
    if isinstance(exc, HTTPException):  # FastAPI's routing and its routes' own refusals
        detail = _ROUTING_DETAIL.get(exc.status_code, str(exc.detail))
        return problem_response(exc.status_code, detail, request_id=request_id, headers=exc.headers)
    if isinstance(exc, RequestValidationError):
        return problem_response(422, "invalid request", request_id=request_id)
    log.error("unhandled error on %s (request %s)", path, request_id, exc_info=exc)
    return problem_response(500, "internal error", request_id=request_id)
