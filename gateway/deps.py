"""What the routes need: the `Gateway` made by create_app, and the authenticated caller.

The notification endpoints are the hot path: they get the Gateway and their
NotificationRequest from gateway.middleware.NotificationEndpoints and call
`bearer_caller` / `jwt_caller` themselves, because FastAPI's dependency injection would
cost them more than the rest of their work. The service routes (/readyz, /metrics) use
`GatewayDep`, which tests can override; the notification endpoints get their
collaborators from create_app(settings, publisher=...).
"""

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from gateway.admission import Admission, ReplayTicket
from gateway.auth import JwtVerifier, authenticate_bearer
from gateway.config import GatewaySettings
from gateway.errors import AuthenticationError
from gateway.intake import NotificationRequest
from gateway.metrics import GatewayMetrics
from gateway.publisher import Publisher
from gateway.readiness import ReadinessLog
from schemas.tenantregistry import TenantRegistry
from schemas.tenants import Tenant, TenantDirectory


@dataclass
class Gateway:
    settings: GatewaySettings
    tenants: TenantRegistry
    publisher: Publisher
    verifier: JwtVerifier
    admission: Admission
    metrics: GatewayMetrics
    readiness: ReadinessLog = field(default_factory=ReadinessLog)


@dataclass(frozen=True)
class Caller:
    """An authenticated and admitted caller, and the tenants-file version it was checked
    against (a reload during the request does not change which rules apply to it).
    `ticket`: the JWT marked used, to release if the request is refused after all."""

    directory: TenantDirectory
    tenant: Tenant
    ticket: ReplayTicket | None = None


async def bearer_caller(request: NotificationRequest, gateway: Gateway, route: str) -> Caller:
    """The tenant of the bearer token, charged one request (401, then 429)."""
    directory = gateway.tenants.current
    try:
        tenant = authenticate_bearer(directory, request.header(b"authorization"))
    except AuthenticationError as exc:
        gateway.metrics.auth_failures.labels(route, exc.reason).inc()
        raise
    request.tenant = tenant.id
    await gateway.admission.admit(tenant.id, _rate(gateway, tenant), None)
    return Caller(directory, tenant)


async def jwt_caller(request: NotificationRequest, gateway: Gateway, route: str) -> Caller:
    """The issuer's tenant, charged one request, the token marked used (401, then 429)."""
    directory = gateway.tenants.current
    try:
        verified = gateway.verifier.verify(directory, request.header(b"authorization"))
        request.tenant = verified.tenant.id
        await gateway.admission.admit(
            verified.tenant.id, _rate(gateway, verified.tenant), verified.ticket
        )
    except AuthenticationError as exc:  # a replay is refused by the admission
        gateway.metrics.auth_failures.labels(route, exc.reason).inc()
        raise
    return Caller(directory, verified.tenant, verified.ticket)


def _rate(gateway: Gateway, tenant: Tenant) -> float:
    return tenant.rate_limit_per_s or gateway.settings.default_rate_limit_per_s


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
