"""Who may read an organization: the gateway's bearer tokens and tenants file.

The rules live in schemas.tenants (TenantDirectory: tenant_for_token, owns_uid,
owns_tenant_id), shared with the gateway; this module only reads the header and maps
the outcome to HTTP statuses: 401 without a valid token (a token that is not ASCII
included), 403 for another tenant's organization. The registry re-reads the file when
it changes, as the gateway's does.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Literal

from faust.web import Request, Response, View

from schemas.tenantregistry import TenantRegistry, open_registry
from schemas.tenants import bearer_token
from streams.app import settings

OrgKind = Literal["uId", "tenantId"]
Handler = Callable[..., Awaitable[Response]]
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="switchboard"'}

_registry: TenantRegistry | None = None


@dataclass(frozen=True)
class Denied:
    status: int
    reason: str


def registry() -> TenantRegistry:
    global _registry
    if _registry is None:
        _registry = open_registry(settings.tenants_file)
    _registry.reload_if_changed()
    return _registry


def check(authorization: str | None, kind: OrgKind, org: str) -> Denied | None:
    """None when the bearer token's tenant owns `org`, else why not."""
    token = bearer_token(authorization)
    if token is None:
        return Denied(401, "send 'Authorization: Bearer <token>'")
    if not token.isascii():
        # aiohttp decodes header bytes that are not UTF-8 to lone surrogates (\xff becomes
        # \udcff), which no str.encode() accepts. Bearer tokens are ASCII (RFC 6750 §2.1),
        # and the gateway sees such bytes as Latin-1: no tenant can hold a token like this.
        return Denied(401, "the bearer token is not valid")
    directory = registry().current
    tenant = directory.tenant_for_token(token)
    if tenant is None:
        return Denied(401, "the bearer token is not valid")
    owns = directory.owns_uid if kind == "uId" else directory.owns_tenant_id
    if not owns(tenant, org):
        return Denied(403, f"this {kind} is not one of your tenant's organizations")
    return None


def reads(kind: OrgKind) -> Callable[[Handler], Handler]:
    """Decorate a view method: check the caller may read the organization in the path.

    Put it above @app.table_route, so a request is refused before it is forwarded.
    """

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def checked(view: View, request: Request, *args: Any, **kwargs: Any) -> Response:
            denied = check(request.headers.get("Authorization"), kind, kwargs[kind])
            if denied is None:
                return await handler(view, request, *args, **kwargs)
            headers = CHALLENGE if denied.status == 401 else None
            return view.error(denied.status, denied.reason, headers=dict(headers or {}))

        return checked

    return decorate
