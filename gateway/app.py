"""`create_app`: the gateway as a FastAPI app, with its producer and tenants-file reloader.

The lifespan starts the publisher (which keeps trying if Kafka is down at start: the
gateway then answers 503 and /readyz says so) and a task that re-reads the tenants file
when it changes, so a rotated token takes effect without a restart. SIGHUP (a reload
now) is wired by gateway.server, which owns the process.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from gateway.admission import Admission, InProcessAdmission
from gateway.auth import JwtVerifier
from gateway.config import GatewaySettings
from gateway.deps import Gateway
from gateway.errors import (
    ProblemError,
    SetupError,
    error_response,
    problem_response,
)
from gateway.metrics import GatewayMetrics
from gateway.middleware import NotificationEndpoints, RequestContextMiddleware
from gateway.openapi import install_openapi
from gateway.publisher import KafkaPublisher, Publisher
from gateway.ratelimit import RateLimiter
from gateway.replay import ReplayCache
from gateway.requestlog import LineBudget, RequestLog
from gateway.routes import NOTIFICATION_ENDPOINTS, ROUTES, service_router
from gateway.sharedstate import redis_admission
from schemas.tenants import TenantRegistry, TenantsFileError

log = logging.getLogger(__name__)


def create_app(
    settings: GatewaySettings | None = None, publisher: Publisher | None = None
) -> FastAPI:
    """The app; `publisher` replaces the Kafka one (unit tests pass an in-memory fake)."""
    settings = settings or GatewaySettings()
    metrics = GatewayMetrics()
    gateway = Gateway(
        settings=settings,
        tenants=_load_tenants(settings),
        publisher=publisher or KafkaPublisher(settings),
        verifier=JwtVerifier(settings.jwt_leeway_s),
        admission=_admission(settings, metrics),
        metrics=metrics,
    )
    metrics.kafka_ready.set_function(lambda: float(gateway.publisher.ready()))
    app = _GatewayApp(
        title="Switchboard gateway",
        version="0.1.0",
        description="Receives Apple Apps and Books and app notifications and publishes "
        "them, unchanged, to Kafka. 202 means the record is stored (acks=all).",
        lifespan=_lifespan,
        redoc_url=None,
        # FastAPI's OpenTelemetry hooks cost ~15 µs a request even unconfigured; the
        # gateway's own Prometheus metrics are its telemetry.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.gateway = gateway
    app.include_router(service_router)
    _install_error_handlers(app)
    install_openapi(app)
    return app


class _GatewayApp(FastAPI):
    """FastAPI with the request context and the notification endpoints in front of its
    whole middleware stack."""

    def build_middleware_stack(self) -> ASGIApp:
        gateway: Gateway = self.state.gateway
        stack = NotificationEndpoints(
            super().build_middleware_stack(), gateway, NOTIFICATION_ENDPOINTS
        )
        settings = gateway.settings
        log = RequestLog(settings.access_log, LineBudget(settings.log_refusals_per_s))
        return RequestContextMiddleware(stack, gateway.metrics, ROUTES, log)


def _admission(settings: GatewaySettings, metrics: GatewayMetrics) -> Admission:
    """The shared store when configured, else this process's memory (said at start)."""
    if settings.shared_state_url is not None:
        return redis_admission(settings, metrics)
    return InProcessAdmission(
        ReplayCache(settings.jti_cache_size), RateLimiter(settings.rate_limit_burst_s)
    )


def _load_tenants(settings: GatewaySettings) -> TenantRegistry:
    if settings.tenants_file is None:
        raise SetupError("SWITCHBOARD_TENANTS_FILE is not set: the gateway needs a tenants file")
    try:
        return TenantRegistry(settings.tenants_file)
    except TenantsFileError as exc:
        raise SetupError(f"tenants file refused: {exc}") from exc


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    gateway: Gateway = app.state.gateway
    log.info(gateway.admission.describe())
    await gateway.publisher.start()
    reloader = asyncio.create_task(_reload_tenants(gateway), name="tenants-reload")
    try:
        yield
    finally:
        reloader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reloader
        await gateway.publisher.stop()
        await gateway.admission.close()


async def _reload_tenants(gateway: Gateway) -> None:
    """Cheap stat each interval; a new file replaces the old one only if it is valid."""
    while True:
        await asyncio.sleep(gateway.settings.tenants_reload_interval_s)
        try:
            gateway.tenants.reload_if_changed()
        except Exception:  # never let the reloader die: the old file stays in force
            log.exception("tenants file reload failed")


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _install_error_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemError)
        return error_response(exc, _request_id(request))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = {404: "no such endpoint", 405: "method not allowed on this endpoint"}.get(
            exc.status_code, str(exc.detail)
        )
        return problem_response(
            exc.status_code, detail, request_id=_request_id(request), headers=exc.headers
        )

    async def on_request_validation(request: Request, exc: Exception) -> Response:
        return problem_response(422, "invalid request", request_id=_request_id(request))

    async def on_crash(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        return problem_response(500, "internal error", request_id=_request_id(request))

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_request_validation)
    app.add_exception_handler(Exception, on_crash)
