"""The gateway's log lines about requests: JSON with request id, tenant and outcome; 4xx
lines bounded per second; 5xx always; the accepted path silent unless the access log is on."""

import asyncio
import contextlib
import io
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.requestlog import LineBudget, current_fields
from schemas.logformat import JsonFormatter
from tests.unit.gateway.support import (
    ACME_TOKEN,
    GLOBEX_UID,
    MemoryPublisher,
    apple_body,
    bearer,
    unavailable,
)

URL = "/v1/notifications"
Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def lines() -> Iterator[Lines]:
    """Every line logged during the test, as the gateway process writes them, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(context=current_fields))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def requests_logged(lines: Lines) -> list[dict[str, Any]]:
    return [line for line in lines() if line["logger"] == "gateway.requests"]


@contextlib.asynccontextmanager
async def gateway(
    settings: GatewaySettings, publisher: MemoryPublisher, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=overrides), publisher=publisher)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


async def test_a_refusal_is_one_json_line_with_request_id_tenant_and_problem(
    client: httpx.AsyncClient, lines: Lines
) -> None:
    response = await client.post(URL, content=apple_body(GLOBEX_UID), headers=bearer(ACME_TOKEN))
    assert response.status_code == 403
    [line] = requests_logged(lines)
    assert line["msg"] == "refused" and line["level"] == "warning"
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["tenant"] == "acme"
    assert (line["status"], line["problem"]) == (403, "forbidden")
    assert line["detail"] == response.json()["detail"]
    assert (line["method"], line["path"]) == ("POST", URL)
    assert {"ts", "level", "logger", "msg", "ms"} <= set(line)


async def test_an_unauthenticated_refusal_names_the_problem_and_reason_but_no_tenant(
    client: httpx.AsyncClient, lines: Lines
) -> None:
    response = await client.post(URL, content=apple_body(), headers=bearer("not-a-token"))
    assert response.status_code == 401
    [line] = requests_logged(lines)
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["tenant"] is None
    assert (line["status"], line["problem"]) == (401, "authentication")
    assert line["reason"] == "unknown_token"


async def test_refusals_outside_the_notification_endpoints_are_logged_too(
    client: httpx.AsyncClient, lines: Lines
) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    [line] = requests_logged(lines)
    assert (line["status"], line["problem"], line["path"]) == (404, "not-found", "/nowhere")
    assert line["request_id"] == response.headers["x-request-id"]


async def test_accepted_requests_are_not_logged_without_the_access_log(
    client: httpx.AsyncClient, lines: Lines
) -> None:
    response = await client.post(URL, content=apple_body(), headers=bearer(ACME_TOKEN))
    assert response.status_code == 202
    assert requests_logged(lines) == []


async def test_with_the_access_log_an_accepted_request_is_one_line(
    settings: GatewaySettings, publisher: MemoryPublisher, lines: Lines
) -> None:
    async with gateway(settings, publisher, access_log=True) as client:
        response = await client.post(URL, content=apple_body(), headers=bearer(ACME_TOKEN))
    assert response.status_code == 202
    [line] = requests_logged(lines)
    assert (line["msg"], line["level"], line["status"]) == ("accepted", "info", 202)
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["tenant"] == "acme"
    assert "problem" not in line


async def test_a_publish_failure_is_always_logged_as_an_error(
    settings: GatewaySettings, lines: Lines
) -> None:
    publisher = MemoryPublisher(failure=unavailable())
    async with gateway(settings, publisher, log_refusals_per_s=0) as client:
        response = await client.post(URL, content=apple_body(), headers=bearer(ACME_TOKEN))
    assert response.status_code == 503
    [line] = requests_logged(lines)
    assert (line["msg"], line["level"]) == ("failed", "error")
    assert (line["status"], line["problem"], line["tenant"]) == (503, "kafka-unavailable", "acme")
    assert line["request_id"] == response.headers["x-request-id"]


async def test_every_line_logged_while_answering_carries_the_request_id(
    settings: GatewaySettings, lines: Lines
) -> None:
    publisher = MemoryPublisher(failure=RuntimeError("a bug"))
    async with gateway(settings, publisher) as client:
        response = await client.post(URL, content=apple_body(), headers=bearer(ACME_TOKEN))
    assert response.status_code == 500
    logged = lines()
    crash = next(line for line in logged if "exc" in line)
    assert "RuntimeError: a bug" in crash["exc"]
    assert crash["request_id"] == response.headers["x-request-id"]
    [line] = requests_logged(lines)
    assert (line["status"], line["problem"]) == (500, "internal-server-error")
    logging.getLogger("elsewhere").warning("after the request")
    assert "request_id" not in lines()[-1]


class Suppressed(logging.Handler):
    """Adds up the counts of "refusal lines suppressed"; `reached` once they make `total`."""

    def __init__(self) -> None:
        super().__init__()
        self.total, self.count = math.inf, 0
        self.reached = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "refusal lines suppressed":
            self.count += record.fields["suppressed"]  # type: ignore[attr-defined]
            self.expect(self.total)

    def expect(self, total: float) -> None:
        self.total = total
        if self.count >= total:
            self.reached.set()


@pytest.fixture
def suppressed() -> Iterator[Suppressed]:
    handler = Suppressed()
    logging.getLogger("gateway.requests").addHandler(handler)
    yield handler
    logging.getLogger("gateway.requests").removeHandler(handler)


async def test_a_flood_of_refusals_is_logged_within_the_budget_and_counted(
    settings: GatewaySettings, publisher: MemoryPublisher, lines: Lines, suppressed: Suppressed
) -> None:
    per_s, flood = 5, 300
    async with gateway(settings, publisher, log_refusals_per_s=per_s) as client:
        started = time.monotonic()
        for _ in range(flood):
            response = await client.post(URL, content=b"{}", headers=bearer("not-a-token"))
            assert response.status_code == 401
        elapsed = time.monotonic() - started
        refused = [line for line in requests_logged(lines) if line["msg"] == "refused"]
        # Each second (window) started during the flood lets `per_s` lines through.
        assert per_s <= len(refused) <= per_s * (math.ceil(elapsed) + 1)
        suppressed.expect(flood - len(refused))
        # The count of a second is logged when that second is over.
        await asyncio.wait_for(suppressed.reached.wait(), 10)
    reports = [line for line in requests_logged(lines) if line["msg"] != "refused"]
    assert len(refused) + sum(report["suppressed"] for report in reports) == flood
    assert all(report["limit_per_s"] == per_s for report in reports)


def test_the_line_budget_allows_its_rate_each_second_and_counts_the_rest() -> None:
    now = [100.0]
    budget = LineBudget(3, clock=lambda: now[0])
    assert [budget.take() for _ in range(5)] == [True, True, True, False, False]
    assert budget.suppressed == 2
    now[0] += 0.5
    assert budget.take() is False and budget.window_left_s() == pytest.approx(0.5)
    now[0] += 0.5
    assert [budget.take() for _ in range(4)] == [True, True, True, False]
    assert budget.suppressed == 4  # counted until reported (RequestLog.report_suppressed)
    assert LineBudget(0).take() is False


async def test_readyz_logs_when_readiness_is_lost_and_back_not_every_probe(
    settings: GatewaySettings, lines: Lines
) -> None:
    publisher = MemoryPublisher(is_ready=False)
    async with gateway(settings, publisher) as client:
        for _ in range(5):  # Kubernetes probing during an outage
            assert (await client.get("/readyz")).status_code == 503
        publisher.is_ready = True
        for _ in range(3):
            assert (await client.get("/readyz")).status_code == 200
        publisher.is_ready = False
        assert (await client.get("/readyz")).status_code == 503
    logged = [
        line for line in lines() if line["logger"] in ("gateway.requests", "gateway.readiness")
    ]
    assert [(line["logger"], line["msg"], line["level"]) for line in logged] == [
        ("gateway.readiness", "not ready", "error"),
        ("gateway.readiness", "ready again", "warning"),
        ("gateway.readiness", "not ready", "error"),
    ]
    assert logged[0]["reason"] == "Kafka is unreachable"
