"""The two ASGI middlewares in front of FastAPI (pure ASGI, so they add next to nothing
to a request).

RequestContext, outermost: request id, request metrics (in flight; by route, status
and tenant; 499 for a client that left before its answer) and the request's log line
(gateway.requestlog: refusals and failures; every answer with the access log). The
request id is the sender's X-Request-ID when it is short and plain, else 128 random
bits in hex (from `random`, not os.urandom: an id must be unique, not secret, and
a system call per request is not free); it is echoed in the answer and
travels with the record as a header.

NotificationEndpoints, inside it: serves the table of gateway.endpoints itself, ahead of
all of FastAPI (its middlewares, exception handling, router and request wrappers would
be a large share of a notification's cost). A handler takes the NotificationRequest and
the Gateway and returns a Response; an exception is answered by gateway.errors.answer_for,
as FastAPI's exception handlers answer it. Other paths go on to FastAPI.
"""

import random
import re
import time
from collections.abc import Iterable

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.deps import Gateway
from gateway.endpoints import Endpoint
from gateway.errors import answer_for, problem_response
from gateway.intake import NotificationRequest
from gateway.metrics import NO_TENANT, OTHER_ROUTE, GatewayMetrics
from gateway.requestlog import RequestLog, enter, leave

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
    """Outermost: every request, notification or not, gets its id and its metrics here."""

    def __init__(
        self, app: ASGIApp, metrics: GatewayMetrics, routes: frozenset[str], log: RequestLog
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(_header(scope, REQUEST_ID_HEADER))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        echoed = (REQUEST_ID_HEADER, request_id.encode("latin-1"))
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        metrics = self.metrics
        metrics.requests_in_flight += 1
        answered = "500"  # what an exception escaping before any answer becomes
        started = time.perf_counter()
        entered = enter(state)  # lines logged meanwhile carry the request id
        try:
            await self.app(scope, receive, send_with_id)
            answered = CLIENT_GONE  # returned without answering: the client left
        finally:
            metrics.requests_in_flight -= 1
            leave(entered)
            path = scope["path"]
            route = path if path in self.routes else OTHER_ROUTE
            tenant = state.get("tenant") or NO_TENANT
            metrics.count_request(route, answered if status is None else str(status), tenant)
            if status is None or status >= 400 or self.log.access_log:
                code = int(answered) if status is None else status
                self.log.answered(scope, state, code, (time.perf_counter() - started) * 1000)


class NotificationEndpoints:
    """Serves the table's endpoints; every other path goes on to FastAPI's stack."""

    def __init__(self, app: ASGIApp, gateway: Gateway, endpoints: Iterable[Endpoint]) -> None:
        self.app = app
        self.gateway = gateway
        self.endpoints = {endpoint.path: endpoint for endpoint in endpoints}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        state = scope["state"]
        request = NotificationRequest.of(
            scope, receive, state["request_id"], time.time_ns() // 1_000_000
        )
        response = await self._answer(endpoint, request, scope["method"])
        state["tenant"] = request.tenant  # for the request metrics
        if response is not None:
            await response(scope, receive, send)

    async def _answer(
        self, endpoint: Endpoint, request: NotificationRequest, method: str
    ) -> Response | None:
        if method != endpoint.method:
            return problem_response(
                405,
                f"only {endpoint.method} is allowed here",
                request_id=request.request_id,
                headers={"Allow": endpoint.method},
            )
        try:
            return await endpoint.handler(request, self.gateway)
        except ClientDisconnect:
            return None
        except Exception as exc:
            return answer_for(exc, request.request_id, endpoint.path)
