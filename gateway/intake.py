"""From an HTTP request to a validated notification: content type, size, JSON, schema.

Every way a body can be wrong ends in a ProblemError (4xx), never in a 5xx: the schemas
parsers raise only pydantic.ValidationError, and a "json_invalid" error there means the
bytes are not JSON at all (400), anything else is a schema violation (422) that names
the field. A JSON object with a repeated key is not strict JSON there either (400).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope

from gateway.errors import (
    BadRequestError,
    PayloadTooLargeError,
    SchemaViolationError,
    UnsupportedMediaTypeError,
)

T = TypeVar("T")
MAX_REPORTED_ERRORS = 20
_UTF8 = ("utf-8", "utf8")


@dataclass(slots=True)
class NotificationRequest:
    """What a notification endpoint sees of its request: the headers (names lower-case,
    as ASGI gives them; the first of repeated ones), the body to read, its request id
    and receive time, and the tenant once authenticated (for the request metrics).

    Plain ASGI rather than Starlette's Request: the endpoints are the hot path, and a
    Request builds its Headers and State objects on every request."""

    headers: dict[bytes, bytes]
    receive: Receive
    request_id: str
    received_at_ms: int
    tenant: str | None = None

    @classmethod
    def of(
        cls, scope: Scope, receive: Receive, request_id: str, received_at_ms: int
    ) -> "NotificationRequest":
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
        return cls(headers, receive, request_id, received_at_ms)

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return None if value is None else value.decode("latin-1")


def check_content_type(value: str | None) -> None:
    """application/json or application/*+json; a charset, if any, must be UTF-8."""
    if value == "application/json":
        return  # what nearly every sender sends
    media, _, params = (value or "").partition(";")
    media = media.strip().lower()
    is_json = media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
    if not is_json:
        raise UnsupportedMediaTypeError(
            "the body must be JSON: send 'Content-Type: application/json'"
        )
    for param in params.split(";"):
        name, _, param_value = param.partition("=")
        if name.strip().lower() == "charset" and param_value.strip(' "').lower() not in _UTF8:
            raise UnsupportedMediaTypeError("JSON bodies must be UTF-8 (charset=utf-8)")


async def read_body(request: NotificationRequest, limit: int) -> bytes:
    """The raw body, refusing (413) a declared or actual length over `limit` bytes."""
    declared = request.headers.get(b"content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise BadRequestError("Content-Length must be a number of bytes")
        if len(declared) > 18 or int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"the body is over the limit of {limit} bytes")


def parse_body(parse: Callable[[bytes], T], body: bytes) -> T:
    """`parse` (parse_apple / parse_app) with its errors turned into 400 / 422 answers."""
    try:
        parsed = parse(body)
    except ValidationError as exc:
        raise _problem(exc) from None
    return parsed


def field_path(loc: tuple[int | str, ...]) -> str:
    """("notification", "assignments", 0, "adamId") -> "notification.assignments[0].adamId"."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(body)"


def _problem(exc: ValidationError) -> BadRequestError | SchemaViolationError:
    errors = exc.errors(include_url=False, include_input=False, include_context=True)
    for error in errors:
        if error["type"] == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", error["msg"])
            return BadRequestError(f"the body is not valid JSON: {reason}")
    fields = [
        {"field": field_path(e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in errors[:MAX_REPORTED_ERRORS]
    ]
    first = fields[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return SchemaViolationError(
        f"{first['field']}: {first['message']}{more}", extra={"errors": fields}
    )
