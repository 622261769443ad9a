"""Query views on the worker's web port (Faust web, default 127.0.0.1:6066).

Any worker answers any query: @app.table_route forwards the request to the worker that
holds the partition of the organization in the path (uId or tenantId, hashed like the
record key of raw-notifications), which answers from its local table. Credentials are
checked before forwarding (streams.access); answers are JSON; table-internal fields
(`offset`) are left out. 503 while this worker's tables are recovering.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import cast

from faust.web import Request, Response, View
from pydantic import BaseModel

from streams import answers, openapi
from streams.access import reads
from streams.app import app, settings
from streams.keys import (
    ASSIGNMENT_KINDS,
    assignment_key,
    key_parts,
    key_prefix,
    partition_for,
    table_key,
)
from streams.paging import PageError, decode_cursor, encode_cursor, page_limit
from streams.probes import is_ready
from streams.store import get, scan
from streams.tables import (
    Table,
    asset_counts,
    assignment_errors,
    assignment_rows,
    last_tests,
    tenant_urls,
    user_status,
)

USERS_PAGE = openapi.Page(default=100, maximum=1000)
ASSIGNMENTS_PAGE = openapi.Page(default=1000, maximum=10_000)
Handler = Callable[..., Awaitable[Response]]
QUERY_VIEWS: list[tuple[type[View], openapi.Described]] = []  # for /openapi.json


def query_view(
    path: str, answer: type[BaseModel], *query: openapi.Param
) -> Callable[[type[View]], type[View]]:
    """@app.page, and the view's path, answer model and query parameters for /openapi.json."""

    def register(view: type[View]) -> type[View]:
        QUERY_VIEWS.append((view, openapi.Described(path, answer, query)))
        return app.page(path)(view)

    return register


def table_route(table: Table, param: str) -> Callable[[Handler], Handler]:
    """@app.table_route by a path parameter (Faust types views as having none)."""
    return cast(Callable[[Handler], Handler], app.table_route(table=table, match_info=param))


def answer(view: View, body: BaseModel | None, what: str) -> Response:
    """200 with `body`; 404 when there is none; 503 while this worker's tables recover."""
    if not is_ready():
        return view.error(503, "tables are recovering, retry", headers={"Retry-After": "1"})
    if body is None:
        return view.error(404, f"no {what} known")
    return view.json(body.model_dump(mode="json"))


def org_partition(org: str) -> int:
    return partition_for(org, settings.partitions)


def limit_of(query: Mapping[str, str], page: openapi.Page) -> int:
    return page_limit(query.get("limit"), page.default, page.maximum)


@query_view("/v1/orgs/{uId}/asset-counts", answers.AssetCounts)
class AssetCountsView(View):
    """The license count per asset (adamId, pricingParam) of the organization.

    Its last baseline's totalCount (`switchboard baseline import`) plus the countDelta
    received after it, with the baseline's time and counts; null `baseline` when none was
    imported, and the count is then the sum of countDelta since Switchboard first listened.
    """

    @reads("uId")
    @table_route(asset_counts, "uId")
    async def get(self, request: Request, uId: str) -> Response:
        rows = [
            answers.AssetCount.model_validate(v)
            for _, v in scan(asset_counts, org_partition(uId), key_prefix(uId))
        ]
        body = answers.AssetCounts(rows) if rows else None
        return answer(self, body, "asset counts for this uId")


@query_view(
    "/v1/orgs/{uId}/assignments",
    answers.AssignmentsPage,
    openapi.Param("adamId", "The asset's adamId.", required=True),
    openapi.Param("pricingParam", "The asset's pricingParam (STDQ, PLUS).", required=True),
    openapi.Param("limit", "Holders per page.", page=ASSIGNMENTS_PAGE),
    openapi.Param("after", "The `next` of the previous page."),
)
class AssignmentsView(View):
    """The serial numbers and clientUserIds holding one asset, a page at a time.

    404 when nothing is known of the asset; an empty page when it is held by no one now.
    """

    @reads("uId")
    @table_route(assignment_rows, "uId")
    async def get(self, request: Request, uId: str) -> Response:
        adam_id, pricing = request.query.get("adamId"), request.query.get("pricingParam")
        if not adam_id or not pricing:
            return self.error(400, "adamId and pricingParam are required")
        try:
            limit = limit_of(request.query, ASSIGNMENTS_PAGE)
            after = decode_cursor(request.query.get("after"), ASSIGNMENT_KINDS)
        except PageError as exc:
            return self.error(400, str(exc))
        partition = org_partition(uId)
        start = assignment_key(uId, adam_id, pricing, *after) if after else None
        held: dict[str, list[str]] = {kind: [] for kind in ASSIGNMENT_KINDS}
        known, last, count = after is not None, None, 0
        for key, value in scan(
            assignment_rows, partition, key_prefix(uId, adam_id, pricing), start
        ):
            known = True  # a row held by no one now still says the asset is known
            if value.get("assigned"):
                kind, holder = key_parts(key)[3:5]
                held[kind].append(holder)
                count, last = count + 1, (kind, holder)
                if count == limit:
                    break
        error = get(assignment_errors, partition, table_key(uId, adam_id, pricing))
        body = answers.AssignmentsPage(
            uId=uId,
            adamId=adam_id,
            pricingParam=pricing,
            clientUserIds=held["clientUserId"],
            serialNumbers=held["serialNumber"],
            lastError=answers.AssignmentError.model_validate(error) if error else None,
            next=encode_cursor(last) if last is not None and count == limit else None,
        )
        return answer(self, body if known or error else None, "assignments for this asset")


@query_view("/v1/orgs/{uId}/users/{clientUserId}", answers.UserStatus)
class UserView(View):
    """One managed user's status, email, inviteCode and idHash."""

    @reads("uId")
    @table_route(user_status, "uId")
    async def get(self, request: Request, uId: str, clientUserId: str) -> Response:
        value = get(user_status, org_partition(uId), table_key(uId, clientUserId))
        body = answers.UserStatus.model_validate(value) if value else None
        return answer(self, body, "user with this clientUserId")


@query_view(
    "/v1/orgs/{uId}/users",
    answers.UsersPage,
    openapi.Param("status", "Only users with this status (Registered, Associated, Retired)."),
    openapi.Param("limit", "Users per page.", page=USERS_PAGE),
    openapi.Param("after", "The `next` of the previous page."),
)
class UsersView(View):
    """The organization's managed users, in clientUserId order, a page at a time.

    404 when the organization has no user at all; an empty page when none matches.
    """

    @reads("uId")
    @table_route(user_status, "uId")
    async def get(self, request: Request, uId: str) -> Response:
        status, after = request.query.get("status"), request.query.get("after")
        try:
            limit = limit_of(request.query, USERS_PAGE)
        except PageError as exc:
            return self.error(400, str(exc))
        start = table_key(uId, after) if after else None
        page: list[answers.UserStatus] = []
        known, last = after is not None, ""
        for key, value in scan(user_status, org_partition(uId), key_prefix(uId), start):
            known, last = True, key
            if status is None or value.get("status") == status:
                page.append(answers.UserStatus.model_validate(value))
                if len(page) == limit:
                    break
        following = key_parts(last)[1] if len(page) == limit else None
        body = answers.UsersPage(users=page, next=following) if known else None
        return answer(self, body, "users for this uId")


@query_view("/v1/orgs/{uId}/last-test", answers.LastTest)
class LastTestView(View):
    """The last TEST_NOTIFICATION received for the organization."""

    @reads("uId")
    @table_route(last_tests, "uId")
    async def get(self, request: Request, uId: str) -> Response:
        value = get(last_tests, org_partition(uId), table_key(uId))
        body = answers.LastTest.model_validate(value) if value else None
        return answer(self, body, "test notification for this uId")


@query_view("/v1/tenants/{tenantId}", answers.TenantUrl)
class TenantView(View):
    """The REST URL last announced for an app tenantId (TENANT_REST_URL_CHANGE)."""

    @reads("tenantId")
    @table_route(tenant_urls, "tenantId")
    async def get(self, request: Request, tenantId: str) -> Response:
        value = get(tenant_urls, org_partition(tenantId), table_key(tenantId))
        body = answers.TenantUrl.model_validate(value) if value else None
        return answer(self, body, "REST URL for this tenantId")


@app.page("/openapi.json")
class OpenAPIDocument(View):
    """The OpenAPI 3.1 document of the views above (no credentials: it holds no data)."""

    async def get(self, request: Request) -> Response:
        return self.json(openapi.document(QUERY_VIEWS))
