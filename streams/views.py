"""Query views on the worker's web port (Faust web, default 127.0.0.1:6066).

Any worker answers any query: @app.table_route forwards the request to the worker that
holds the partition of the organization in the path (uId or tenantId, hashed like the
record key of raw-notifications), which answers from its local table. Credentials are
checked before forwarding (streams.access); answers are JSON; table-internal fields
(`offset`) are left out. 503 while this worker's tables are recovering.
"""

from collections.abc import Awaitable, Callable
from typing import Any, cast

from faust.web import Request, Response, View

from streams.access import reads
from streams.app import app, settings
from streams.keys import key_parts, key_prefix, partition_for, table_key
from streams.probes import is_ready
from streams.store import get, scan
from streams.tables import (
    Table,
    asset_counts,
    assignments,
    last_tests,
    tenant_urls,
    user_status,
)

PAGE_DEFAULT, PAGE_MAX = 100, 1000
Handler = Callable[..., Awaitable[Response]]


def table_route(table: Table, param: str) -> Callable[[Handler], Handler]:
    """@app.table_route by a path parameter (Faust types views as having none)."""
    return cast(Callable[[Handler], Handler], app.table_route(table=table, match_info=param))


def answer(view: View, body: Any, what: str) -> Response:
    """200 with `body`; 404 when there is none; 503 while this worker's tables recover."""
    if not is_ready():
        return view.error(503, "tables are recovering, retry", headers={"Retry-After": "1"})
    if body is None:
        return view.error(404, f"no {what} known")
    return view.json(body)


def public(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A table value without its table-internal fields (`offset`)."""
    return None if value is None else {k: v for k, v in value.items() if k != "offset"}


def org_partition(org: str) -> int:
    return partition_for(org, settings.partitions)


@app.page("/v1/orgs/{uId}/asset-counts")
class AssetCounts(View):
    @reads("uId")
    @table_route(asset_counts, "uId")
    async def get(self, request: Request, uId: str) -> Response:
        rows = [
            {"adamId": v["adamId"], "pricingParam": v["pricingParam"], "count": v["count"]}
            for _, v in scan(asset_counts, org_partition(uId), key_prefix(uId))
        ]
        return answer(self, rows or None, "asset counts for this uId")


@app.page("/v1/orgs/{uId}/assignments")
class Assignments(View):
    """?adamId= and ?pricingParam= name the asset."""

    @reads("uId")
    @table_route(assignments, "uId")
    async def get(self, request: Request, uId: str) -> Response:
        adam_id, pricing = request.query.get("adamId"), request.query.get("pricingParam")
        if not adam_id or not pricing:
            return self.error(400, "adamId and pricingParam are required")
        value = get(assignments, org_partition(uId), table_key(uId, adam_id, pricing))
        return answer(self, public(value), "assignments for this asset")


@app.page("/v1/orgs/{uId}/users/{clientUserId}")
class User(View):
    @reads("uId")
    @table_route(user_status, "uId")
    async def get(self, request: Request, uId: str, clientUserId: str) -> Response:
        value = get(user_status, org_partition(uId), table_key(uId, clientUserId))
        return answer(self, public(value), "user with this clientUserId")


@app.page("/v1/orgs/{uId}/users")
class Users(View):
    """?status= filters; ?limit= (1-1000, default 100) and ?after=<next of the last page>.

    404 when the organization has no user at all; an empty page when none matches.
    """

    @reads("uId")
    @table_route(user_status, "uId")
    async def get(self, request: Request, uId: str) -> Response:
        status, after = request.query.get("status"), request.query.get("after")
        try:
            limit = min(max(int(request.query.get("limit", PAGE_DEFAULT)), 1), PAGE_MAX)
        except ValueError:
            return self.error(400, "limit must be an integer")
        start = table_key(uId, after) if after else None
        page: list[dict[str, Any] | None] = []
        known, last = after is not None, ""
        for key, value in scan(user_status, org_partition(uId), key_prefix(uId), start):
            known, last = True, key
            if status is None or value.get("status") == status:
                page.append(public(value))
                if len(page) == limit:
                    break
        following = key_parts(last)[1] if len(page) == limit else None
        body = {"users": page, "next": following} if known else None
        return answer(self, body, "users for this uId")


@app.page("/v1/orgs/{uId}/last-test")
class LastTest(View):
    @reads("uId")
    @table_route(last_tests, "uId")
    async def get(self, request: Request, uId: str) -> Response:
        value = get(last_tests, org_partition(uId), table_key(uId))
        return answer(self, public(value), "test notification for this uId")


@app.page("/v1/tenants/{tenantId}")
class Tenant(View):
    @reads("tenantId")
    @table_route(tenant_urls, "tenantId")
    async def get(self, request: Request, tenantId: str) -> Response:
        value = get(tenant_urls, org_partition(tenantId), table_key(tenantId))
        return answer(self, public(value), "REST URL for this tenantId")
