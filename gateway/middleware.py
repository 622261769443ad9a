"""The two ASGI middlewares in front of FastAPI (pure ASGI: microseconds each).

RequestContext, outermost: request id, request metrics (in flight; by route, status
and tenant; 499 for a client that left before its answer) and the request's log line
(gateway.requestlog: refusals and failures; every answer with the access log). The
request id is the sender's X-Request-ID when it is short and plain, else 128 random
bits in hex (from `random`, not os.urandom: an id must be unique, not secret, and
uuid4's system call cost 4% of the gateway's CPU); it is echoed in the answer and
travels with the record as a header.

NotificationEndpoints, inside it: serves POST /v1/notifications and
/v1/app-notifications itself, ahead of all of FastAPI (its middlewares, exception
handling, exit stacks, router and request wrappers measured 40 µs of the 100 µs the app
spent on a request). Its handlers take an Incoming request and the Gateway and return a
Response; a ProblemError becomes its problem document here, any other exception is
logged and answered 500. Other paths go on to FastAPI.
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
from gateway.requestlog import RequestLog, enter, leave

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
    """Serves the notification paths; the rest goes on to FastAPI's stack."""

    def __init__(self, app: ASGIApp, gateway: Gateway, endpoints: Mapping[str, Endpoint]) -> None:
        self.app = app
        self.gateway = gateway
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        state = scope["state"]
        incoming = Incoming.of(scope, receive, state["request_id"], time.time_ns() // 1_000_000)
        response = await self._answer(endpoint, incoming, scope["method"])
        state["tenant"] = incoming.tenant  # for the request metrics
        if response is not None:
            await response(scope, receive, send)

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
