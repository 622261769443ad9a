"""The notification endpoints' table (gateway.endpoints) is what the dispatch serves and
what /openapi.json documents; FastAPI's own routes are documented next to it, and every
exception is answered by the one mapping of gateway.errors."""

import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from gateway.deps import Gateway
from gateway.endpoints import NOTIFICATION_ENDPOINTS, AcceptedEvent, Endpoint
from gateway.errors import ForbiddenError, answer_for
from gateway.intake import NotificationRequest
from gateway.middleware import NotificationEndpoints
from gateway.openapi import install_openapi
from schemas.apple import AppleNotification


async def test_every_table_entry_is_documented_with_its_method(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for endpoint in NOTIFICATION_ENDPOINTS:
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        assert operation["summary"] == endpoint.summary
        assert operation["security"] == [{endpoint.security: []}]
        assert endpoint.security in document["components"]["securitySchemes"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{endpoint.body_name}"}
        accepted = operation["responses"]["202"]["content"]["application/json"]["schema"]
        assert accepted == {"$ref": f"#/components/schemas/{endpoint.accepted.__name__}"}
        assert set(operation["responses"]) == {"202", *map(str, endpoint.problems)}


async def test_the_document_has_no_path_that_is_neither_in_the_table_nor_a_fastapi_route(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    paths = set((await client.get("/openapi.json")).json()["paths"])
    fastapi_routes = set(get_openapi(title="-", version="-", routes=app.routes)["paths"])
    assert fastapi_routes == {"/healthz", "/readyz", "/metrics"}
    assert paths - fastapi_routes == {e.path for e in NOTIFICATION_ENDPOINTS}


class Inner:
    """Stands for FastAPI's stack: records the paths that reach it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(scope["path"])
        await Response(b"inner", 200)(scope, receive, send)


async def call(asgi: Any, method: str, path: str) -> tuple[int, dict[bytes, bytes]]:
    scope = {"type": "http", "method": method, "path": path, "headers": [],
             "query_string": b"", "state": {"request_id": "r-1"}}  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await asgi(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"])


async def test_the_dispatch_serves_exactly_the_table_paths(app: FastAPI) -> None:
    inner = Inner()
    gateway: Gateway = app.state.gateway
    dispatch = NotificationEndpoints(inner, gateway, NOTIFICATION_ENDPOINTS)
    for endpoint in NOTIFICATION_ENDPOINTS:
        assert (await call(dispatch, endpoint.method, endpoint.path))[0] == 401  # its handler
        status, headers = await call(dispatch, "PUT", endpoint.path)
        assert (status, headers[b"allow"]) == (405, endpoint.method.encode())
    for other in ("/healthz", "/v1/notifications/", "/v1/other"):
        assert await call(dispatch, "POST", other) == (200, {b"content-length": b"5"})
    assert inner.paths == ["/healthz", "/v1/notifications/", "/v1/other"]


async def probe(request: NotificationRequest, gateway: Gateway) -> Response:
    return Response(b'{"status":"accepted","eventId":"e"}', 202, media_type="application/json")


PROBE = Endpoint(
    path="/v1/probe",
    method="POST",
    handler=probe,
    summary="A probe",
    description="Only in this test's table.",
    security="appJwt",
    body_name="AppleNotification",
    body_model=AppleNotification,
    examples={},
    accepted=AcceptedEvent,
    problems={400: "Not JSON."},
)


async def test_dispatch_and_document_read_the_same_entries(app: FastAPI) -> None:
    """A table of one made-up endpoint: served and documented, nothing else."""
    dispatch = NotificationEndpoints(Inner(), app.state.gateway, (PROBE,))
    assert (await call(dispatch, "POST", "/v1/probe"))[0] == 202
    assert (await call(dispatch, "POST", "/v1/notifications"))[0] == 200  # not in this table
    bare = FastAPI()
    install_openapi(bare, (PROBE,))
    document = bare.openapi()
    assert list(document["paths"]) == ["/v1/probe"]
    assert document["paths"]["/v1/probe"]["post"]["summary"] == "A probe"
    assert set(document["paths"]["/v1/probe"]["post"]["responses"]) == {"202", "400"}


async def test_an_ordinary_fastapi_route_is_documented_and_counted_next_to_the_table(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    @app.get("/v1/extra", summary="An ordinary route")
    async def extra() -> dict[str, str]:
        return {"status": "ok"}

    app.openapi_schema = None
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert paths["/v1/extra"]["get"]["summary"] == "An ordinary route"
    assert {e.path for e in NOTIFICATION_ENDPOINTS} <= set(paths)
    assert (await client.get("/v1/extra")).status_code == 200
    assert (await client.get("/healthz")).status_code == 200
    metrics = (await client.get("/metrics")).text
    assert 'requests_total{route="/healthz",status="200",tenant="-"} 1.0' in metrics
    assert 'requests_total{route="/v1/extra",status="200",tenant="-"} 1.0' in metrics


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (ForbiddenError("not yours"), 403, "not yours"),
        (HTTPException(404), 404, "no such endpoint"),
        (HTTPException(405), 405, "method not allowed on this endpoint"),
        (RequestValidationError([]), 422, "invalid request"),
        (RuntimeError("a bug"), 500, "internal error"),
    ],
)
def test_one_mapping_answers_every_exception(
    error: Exception, status: int, detail: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="gateway.errors"):
        response = answer_for(error, "r-1", "/somewhere")
    assert response.status_code == status
    assert response.media_type == "application/problem+json"
    assert f'"detail":"{detail}"'.encode() in response.body
    assert b'"requestId":"r-1"' in response.body
    assert ("a bug" in caplog.text) == (status == 500)
