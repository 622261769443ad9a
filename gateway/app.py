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
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from gateway.admission import Admission, InProcessAdmission
from gateway.auth import JwtVerifier
from gateway.config import GatewaySettings
from gateway.deps import Gateway
from gateway.endpoints import NOTIFICATION_ENDPOINTS
from gateway.errors import ProblemError, SetupError, answer_for
from gateway.metrics import GatewayMetrics
from gateway.middleware import NotificationEndpoints, RequestContextMiddleware
from gateway.openapi import install_openapi
from gateway.publisher import KafkaPublisher, Publisher
from gateway.ratelimit import RateLimiter
from gateway.replay import ReplayCache
from gateway.requestlog import LineBudget, RequestLog
from gateway.routes import service_router
from gateway.sharedstate import redis_admission
from schemas.tenantregistry import TenantRegistry, open_registry
from schemas.tenants import TenantsFileError

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
        # FastAPI's OpenTelemetry hooks cost time on every request even unconfigured;
        # the gateway's own Prometheus metrics are its telemetry.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.gateway = gateway
    app.include_router(service_router)
    _install_error_handlers(app)
    install_openapi(app, NOTIFICATION_ENDPOINTS)
    return app


class _GatewayApp(FastAPI):
    """FastAPI with the request context and the notification endpoints in front of its
    whole middleware stack (built at the first request, when every route is included)."""

    def build_middleware_stack(self) -> ASGIApp:
        gateway: Gateway = self.state.gateway
        stack = NotificationEndpoints(
            super().build_middleware_stack(), gateway, NOTIFICATION_ENDPOINTS
        )
        settings = gateway.settings
        log = RequestLog(settings.access_log, LineBudget(settings.log_refusals_per_s))
        return RequestContextMiddleware(stack, gateway.metrics, self.metric_routes(), log)

    def metric_routes(self) -> frozenset[str]:
        """The paths the request metrics name: the documented ones, the table's and
        FastAPI's routes alike (/openapi.json and /docs count as other paths)."""
        return frozenset(self.openapi()["paths"])


def _admission(settings: GatewaySettings, metrics: GatewayMetrics) -> Admission:
    """The shared store when configured, else this process's memory (said at start)."""
    if settings.shared_state_url is not None:
        return redis_admission(settings, metrics)
    return InProcessAdmission(
        ReplayCache(settings.jti_cache_size), RateLimiter(settings.rate_limit_burst_s)
    )


def _load_tenants(settings: GatewaySettings) -> TenantRegistry:
    try:
        return open_registry(settings.tenants_file)
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


def _install_error_handlers(app: FastAPI) -> None:
    """FastAPI's routes answer exceptions as the notification endpoints do (answer_for)."""

    async def on_error(request: Request, exc: Exception) -> Response:
        request_id = getattr(request.state, "request_id", None)
        return answer_for(exc, request_id, request.url.path)

    for caught in (ProblemError, HTTPException, RequestValidationError, Exception):
        app.add_exception_handler(caught, on_error)
