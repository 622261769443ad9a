"""Query views: credentials (401/403), answers (200/404), routing to the key's owner."""

import asyncio
import json
from typing import Any
from unittest import mock

import pytest
from aiohttp import web
from aiohttp.http_parser import HttpRequestParser
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.test_utils import make_mocked_request
from faust.exceptions import SameNode
from faust.web import View

from streams import store, views
from streams.app import app, settings
from streams.keys import CLIENT_USER, SERIAL, assignment_key, partition_for, table_key
from streams.tables import (
    asset_counts,
    assignment_errors,
    assignment_rows,
    last_tests,
    tenant_urls,
    user_status,
)
from tests.unit.streams.support import ACME_TENANT_ID, ACME_UID, GLOBEX_UID, Recorder

ACME = {"Authorization": "Bearer acme-token"}


@pytest.fixture(autouse=True)
def owner(monkeypatch: pytest.MonkeyPatch, produced: Recorder) -> list[str]:
    """This worker owns every key (table_route answers locally); the routed keys."""
    routed: list[str] = []

    async def same_node(table: str, key: str, web: Any, request: Any) -> Any:
        routed.append(key)
        raise SameNode()

    monkeypatch.setattr(app.router, "route_req", same_node)
    monkeypatch.setattr(views, "is_ready", lambda: True)
    return routed


def put(table: Any, org: str, key: str, value: dict[str, Any]) -> None:
    store.put(table, partition_for(org, settings.partitions), key, {**value, "offset": 3})


async def call(view: type[View], path: str, headers: Any = ACME, **match: str) -> tuple[int, Any]:
    request = make_mocked_request("GET", path, headers=headers, match_info=match)
    response = await view(app, app.web).dispatch(request)
    return response.status, json.loads(response.body)


def counts(uid: str = ACME_UID) -> None:
    for adam, n in (("408709785", -12), ("329103948", 5)):
        put(
            asset_counts,
            uid,
            table_key(uid, adam, "STDQ"),
            {"uId": uid, "adamId": adam, "pricingParam": "STDQ", "count": n},
        )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "acme-token"},
        {"Authorization": "Basic YTpi"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer acme-tok\u00e9n"},
    ],
)
async def test_without_a_valid_bearer_token_401(headers: Any, owner: list[str]) -> None:
    request = make_mocked_request(
        "GET", "/v1/orgs/x/asset-counts", headers=headers, match_info={"uId": ACME_UID}
    )
    response = await views.AssetCountsView(app, app.web).dispatch(request)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="switchboard"'
    assert owner == []  # refused before being forwarded


def parsed(raw: bytes, **match: str) -> Any:
    """A request whose headers are what aiohttp's own parser makes of these bytes
    (make_mocked_request builds its headers from str, so it cannot hold these)."""
    loop = asyncio.get_running_loop()
    base = make_mocked_request("GET", "/", match_info=match, loop=loop)
    messages, _, _ = HttpRequestParser(mock.Mock(), loop, 2**16).feed_data(raw)
    message = messages[0][0]
    request = web.Request(
        message, EMPTY_PAYLOAD, base.protocol, base._payload_writer, base.task, loop
    )
    request._match_info = base.match_info
    return request


@pytest.mark.parametrize("token", [b"a\xff", b"acme-token\x80", b"\xc3\x28", b"\xff\xfe"])
async def test_a_token_that_is_not_utf8_is_401_not_500(token: bytes, owner: list[str]) -> None:
    raw = (
        b"GET /v1/orgs/x/asset-counts HTTP/1.1\r\nHost: w\r\nAuthorization: Bearer "
        + token
        + b"\r\n\r\n"
    )
    request = parsed(raw, uId=ACME_UID)
    assert not request.headers["Authorization"].isascii()  # lone surrogates, not bytes
    response = await views.AssetCountsView(app, app.web).dispatch(request)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="switchboard"'
    assert owner == []


async def test_another_tenants_organization_is_403() -> None:
    counts(GLOBEX_UID)
    status, body = await call(views.AssetCountsView, "/", uId=GLOBEX_UID)
    assert status == 403 and "error" in body
    status, _ = await call(views.TenantView, "/", tenantId="999")
    assert status == 403


async def test_asset_counts_of_an_organization(owner: list[str]) -> None:
    counts()
    counts("1000")  # another organization of the same tenant
    status, body = await call(views.AssetCountsView, "/", uId=ACME_UID)
    assert status == 200
    assert sorted(body, key=lambda row: row["adamId"]) == [
        {"adamId": "329103948", "pricingParam": "STDQ", "count": 5, "baseline": None},
        {"adamId": "408709785", "pricingParam": "STDQ", "count": -12, "baseline": None},
    ]
    assert owner == [ACME_UID]  # routed by the organization, as raw-notifications is keyed


async def test_unknown_keys_are_404() -> None:
    for view, match in (
        (views.AssetCountsView, {"uId": ACME_UID}),
        (views.UserView, {"uId": ACME_UID, "clientUserId": "nobody"}),
        (views.UsersView, {"uId": ACME_UID}),
        (views.LastTestView, {"uId": ACME_UID}),
        (views.TenantView, {"tenantId": ACME_TENANT_ID}),
    ):
        status, body = await call(view, "/", **match)
        assert (status, sorted(body)) == (404, ["error"])
    status, _ = await call(views.AssignmentsView, "/?adamId=1&pricingParam=STDQ", uId=ACME_UID)
    assert status == 404


def assign(kind: str, *holders: str, assigned: bool = True, adam: str = "408709785") -> None:
    for holder in holders:
        key = assignment_key(ACME_UID, adam, "STDQ", kind, holder)
        put(assignment_rows, ACME_UID, key, {"assigned": assigned, "at": 1})


async def assignments_of(query: str = "") -> tuple[int, Any]:
    return await call(
        views.AssignmentsView, f"/?adamId=408709785&pricingParam=STDQ{query}", uId=ACME_UID
    )


async def test_assignments_of_an_asset() -> None:
    assign(SERIAL, "s1", "s2")
    assign(SERIAL, "s0", assigned=False)  # held once, not now
    assign(CLIENT_USER, "client-100")
    assign(SERIAL, "other-asset", adam="1")
    status, body = await assignments_of()
    assert status == 200
    assert body == {
        "uId": ACME_UID,
        "adamId": "408709785",
        "pricingParam": "STDQ",
        "serialNumbers": ["s1", "s2"],
        "clientUserIds": ["client-100"],
        "lastError": None,
        "next": None,
    }
    status, _ = await call(views.AssignmentsView, "/?adamId=408709785", uId=ACME_UID)
    assert status == 400


async def test_an_asset_held_by_no_one_now_is_an_empty_page_with_its_last_error() -> None:
    assign(SERIAL, "s0", assigned=False)
    error = {
        "notificationId": "n",
        "eventId": "e",
        "type": "ASSOCIATE",
        "result": "FAILURE",
        "errorMessage": "no licenses",
        "errorNumber": 9632,
        "at": 5,
    }
    put(assignment_errors, ACME_UID, table_key(ACME_UID, "408709785", "STDQ"), error)
    status, body = await assignments_of()
    assert status == 200
    assert (body["serialNumbers"], body["clientUserIds"]) == ([], [])
    assert body["lastError"] == error  # without the table's offset


async def test_assignment_pages_list_every_holder_once_in_order() -> None:
    assign(CLIENT_USER, *(f"c{i:02d}" for i in range(5)))
    assign(SERIAL, *(f"s{i:02d}" for i in range(8)))
    seen: list[str] = []
    after = ""
    for _ in range(5):
        status, page = await assignments_of(f"&limit=3{after}")
        assert status == 200
        seen += page["clientUserIds"] + page["serialNumbers"]
        if page["next"] is None:
            break
        after = f"&after={page['next']}"
    assert seen == [f"c{i:02d}" for i in range(5)] + [f"s{i:02d}" for i in range(8)]


async def test_assignment_pages_are_stable_under_inserts_and_removals() -> None:
    assign(SERIAL, *(f"s{i:02d}" for i in range(0, 20, 2)))  # s00, s02, ... s18
    _, first = await assignments_of("&limit=4")
    assert first["serialNumbers"] == ["s00", "s02", "s04", "s06"]
    assign(SERIAL, "s01", "s09", "s19")  # one behind the cursor, two ahead
    assign(SERIAL, "s08", assigned=False)  # removed ahead of the cursor
    _, rest = await assignments_of(f"&limit=100&after={first['next']}")
    assert rest["serialNumbers"] == ["s09", "s10", "s12", "s14", "s16", "s18", "s19"]
    assert rest["next"] is None


@pytest.mark.parametrize("query", ["&limit=many", "&after=%%%", "&after=WyJ4IiwieSJd"])
async def test_a_bad_limit_or_cursor_is_400(query: str) -> None:
    assign(SERIAL, "s1")
    status, body = await assignments_of(query)
    assert status == 400 and "error" in body


async def test_assignment_page_size_is_capped() -> None:
    assign(SERIAL, *(f"s{i:05d}" for i in range(10_001)))
    _, page = await assignments_of("&limit=20000")
    assert len(page["serialNumbers"]) == 10_000 and page["next"] is not None
    _, page = await assignments_of()
    assert len(page["serialNumbers"]) == 1_000


def users(n: int) -> None:
    for i in range(n):
        cid = f"client-{i:03d}"
        put(
            user_status,
            ACME_UID,
            table_key(ACME_UID, cid),
            {
                "uId": ACME_UID,
                "clientUserId": cid,
                "email": None,
                "inviteCode": None,
                "idHash": None,
                "updatedAt": 1,
                "status": "Associated" if i % 2 else "Registered",
            },
        )


async def test_one_user() -> None:
    users(3)
    status, body = await call(views.UserView, "/", uId=ACME_UID, clientUserId="client-001")
    assert status == 200 and body["status"] == "Associated" and "offset" not in body


async def test_users_filtered_by_status_and_paginated() -> None:
    users(7)
    status, page = await call(views.UsersView, "/?status=Associated&limit=2", uId=ACME_UID)
    assert status == 200
    assert [u["clientUserId"] for u in page["users"]] == ["client-001", "client-003"]
    status, rest = await call(
        views.UsersView, f"/?status=Associated&limit=2&after={page['next']}", uId=ACME_UID
    )
    assert [u["clientUserId"] for u in rest["users"]] == ["client-005"]
    assert rest["next"] is None
    status, everyone = await call(views.UsersView, "/", uId=ACME_UID)
    assert len(everyone["users"]) == 7
    status, none = await call(views.UsersView, "/?status=Retired", uId=ACME_UID)
    assert (status, none) == (200, {"users": [], "next": None})
    status, _ = await call(views.UsersView, "/?limit=many", uId=ACME_UID)
    assert status == 400


async def test_last_test_and_tenant() -> None:
    put(
        last_tests,
        ACME_UID,
        table_key(ACME_UID),
        {"uId": ACME_UID, "notificationId": "n", "receivedAt": 5},
    )
    put(
        tenant_urls,
        ACME_TENANT_ID,
        table_key(ACME_TENANT_ID),
        {
            "tenantId": ACME_TENANT_ID,
            "tenantRestUrl": "https://x",
            "productUuid": "p",
            "eventId": "e",
            "updatedAt": 6,
        },
    )
    assert await call(views.LastTestView, "/", uId=ACME_UID) == (
        200,
        {"uId": ACME_UID, "notificationId": "n", "receivedAt": 5},
    )
    status, body = await call(views.TenantView, "/", tenantId=ACME_TENANT_ID)
    assert status == 200 and body["tenantRestUrl"] == "https://x"


async def test_not_ready_is_503(monkeypatch: pytest.MonkeyPatch) -> None:
    counts()
    monkeypatch.setattr(views, "is_ready", lambda: False)
    status, _ = await call(views.AssetCountsView, "/", uId=ACME_UID)
    assert status == 503


async def test_a_key_owned_elsewhere_is_answered_by_its_owner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def forward(table: str, key: str, web: Any, request: Any) -> Any:
        return web.json({"from": "owner", "table": table, "key": key})

    monkeypatch.setattr(app.router, "route_req", forward)
    assert await call(views.LastTestView, "/", uId=ACME_UID) == (
        200,
        {"from": "owner", "table": "last_tests", "key": ACME_UID},
    )
