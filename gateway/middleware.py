"""The two ASGI middlewares every request goes through (pure ASGI: microseconds each).

RequestContext: request id, receive time and request metrics. The request id is the
sender's X-Request-ID when it is short and plain, else 128 random bits in hex (from
`random`, not os.urandom: an id must be unique, not secret, and uuid4's system call cost
4% of the gateway's CPU); it is echoed in the answer and travels with the record as a
header.

NotificationEndpoints: serves POST /v1/notifications and /v1/app-notifications itself,
ahead of all of FastAPI (its middlewares, exception handling, exit stacks, router and
request wrappers measured 40 µs of the 100 µs the app spent on a request), with the
request context of its own. Its handlers take an Incoming request and the Gateway and
return a Response; a ProblemError becomes its problem document here, any other
exception is logged and answered 500. Other paths go on to FastAPI, where
RequestContextMiddleware gives them the same request id and metrics.
"""

import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.deps import Gateway
from gateway.errors import ProblemError, error_response, problem_response
from gateway.intake import Incoming
from gateway.metrics import NO_TENANT, OTHER_ROUTE, GatewayMetrics

log = logging.getLogger(__name__)

Endpoint = Callable[[Incoming, Gateway], Awaitable[Response]]
CLIENT_GONE = "499"  # the status nginx logs for a request its client abandoned

REQUEST_ID_HEADER = b"x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def request_id_for(sent: bytes | None) -> str:
    """The sender's X-Request-ID value if it is short and plain, else a new one."""
    if sent is not None:
        text = sent.decode("latin-1")
        if _SANE_REQUEST_ID.fullmatch(text):
            return text
    return f"{random.getrandbits(128):032x}"


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return value  # type: ignore[no-any-return]
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: GatewayMetrics, routes: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(_header(scope, REQUEST_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id
        echoed = (REQUEST_ID_HEADER, request_id.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        metrics = self.metrics
        metrics.requests_in_flight += 1
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            metrics.requests_in_flight -= 1
            path = scope["path"]
            route = path if path in self.routes else OTHER_ROUTE
            metrics.count_request(route, str(status), NO_TENANT)


class NotificationEndpoints:
    def __init__(self, app: ASGIApp, gateway: Gateway, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.gateway = gateway
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        incoming = Incoming.of(scope, receive, time.time_ns() // 1_000_000)
        incoming.request_id = request_id_for(incoming.headers.get(REQUEST_ID_HEADER))
        metrics = self.gateway.metrics
        metrics.requests_in_flight += 1
        status = CLIENT_GONE
        try:
            response = await self._answer(endpoint, incoming, scope["method"])
            if response is not None:
                status = str(response.status_code)
                response.raw_headers.append(
                    (REQUEST_ID_HEADER, incoming.request_id.encode("latin-1"))
                )
                await response(scope, receive, send)
        finally:
            metrics.requests_in_flight -= 1
            metrics.count_request(scope["path"], status, incoming.tenant or NO_TENANT)

    async def _answer(self, endpoint: Endpoint, incoming: Incoming, method: str) -> Response | None:
        request_id = incoming.request_id
        if method != "POST":
            allow = {"Allow": "POST"}
            return problem_response(
                405, "only POST is allowed here", request_id=request_id, headers=allow
            )
        try:
            return await endpoint(incoming, self.gateway)
        except ProblemError as exc:
            return error_response(exc, request_id)
        except ClientDisconnect:
            return None
        except Exception:
            log.exception("unhandled error on a notification endpoint (request %s)", request_id)
            return problem_response(500, "internal error", request_id=request_id)
