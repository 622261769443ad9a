"""The views' OpenAPI document: valid, complete, and true to what the views answer."""

import json
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import make_mocked_request
from faust.exceptions import SameNode
from openapi_spec_validator import validate

from streams import store, views
from streams.app import app, settings
from streams.keys import SERIAL, assignment_key, partition_for, table_key
from streams.tables import asset_counts, assignment_rows, last_tests, tenant_urls, user_status
from tests.unit.streams.support import ACME_TENANT_ID, ACME_UID


async def served_document() -> dict[str, Any]:
    request = make_mocked_request("GET", "/openapi.json")
    response = await views.OpenAPIDocument(app, app.web).dispatch(request)
    assert response.status == 200
    document: dict[str, Any] = json.loads(response.body)
    return document


async def test_the_document_is_valid_openapi_3_1() -> None:
    document = await served_document()
    validate(document)
    assert document["openapi"] == "3.1.0"


async def test_it_documents_every_query_view_and_nothing_else() -> None:
    document = await served_document()
    documented = set(document["paths"])
    declared = {described.path for _, described in views.QUERY_VIEWS}
    assert documented == declared
    assert len(declared) == 6


def answers_schema(document: dict[str, Any], path: str, status: str = "200") -> dict[str, Any]:
    content = document["paths"][path]["get"]["responses"][status]["content"]
    return {**content["application/json"]["schema"], "components": document["components"]}


@pytest.fixture
def rows(produced: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async def same_node(*args: Any) -> Any:
        raise SameNode()  # this worker owns every key: answered here

    monkeypatch.setattr(app.router, "route_req", same_node)

    def put(table: Any, org: str, key: str, value: dict[str, Any]) -> None:
        store.put(table, partition_for(org, settings.partitions), key, {**value, "offset": 3})

    put(
        asset_counts,
        ACME_UID,
        table_key(ACME_UID, "1", "STDQ"),
        {"uId": ACME_UID, "adamId": "1", "pricingParam": "STDQ", "count": 4},
    )
    baseline = {
        "baselineId": "b",
        "takenAt": 7,
        "receivedAt": 8,
        "totalCount": 9,
        "assignedCount": 4,
        "availableCount": 5,
    }
    put(
        asset_counts,
        ACME_UID,
        table_key(ACME_UID, "2", "STDQ"),
        {"uId": ACME_UID, "adamId": "2", "pricingParam": "STDQ", "count": 9, "baseline": baseline},
    )
    put(
        assignment_rows,
        ACME_UID,
        assignment_key(ACME_UID, "1", "STDQ", SERIAL, "s1"),
        {"assigned": True, "at": 1},
    )
    user = {"uId": ACME_UID, "clientUserId": "c1", "status": "Registered", "updatedAt": 2}
    put(user_status, ACME_UID, table_key(ACME_UID, "c1"), user)
    put(
        last_tests,
        ACME_UID,
        table_key(ACME_UID),
        {"uId": ACME_UID, "notificationId": "n", "receivedAt": 5},
    )
    url = {
        "tenantId": ACME_TENANT_ID,
        "tenantRestUrl": "https://x",
        "productUuid": "p",
        "eventId": "e",
        "updatedAt": 6,
    }
    put(tenant_urls, ACME_TENANT_ID, table_key(ACME_TENANT_ID), url)


CALLS = [
    ("/v1/orgs/{uId}/asset-counts", "", {"uId": ACME_UID}),
    ("/v1/orgs/{uId}/assignments", "?adamId=1&pricingParam=STDQ&limit=1", {"uId": ACME_UID}),
    ("/v1/orgs/{uId}/users/{clientUserId}", "", {"uId": ACME_UID, "clientUserId": "c1"}),
    ("/v1/orgs/{uId}/users", "", {"uId": ACME_UID}),
    ("/v1/orgs/{uId}/last-test", "", {"uId": ACME_UID}),
    ("/v1/tenants/{tenantId}", "", {"tenantId": ACME_TENANT_ID}),
]


async def test_every_view_answers_what_the_document_says(
    rows: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "is_ready", lambda: True)
    document = await served_document()
    by_path = {described.path: view for view, described in views.QUERY_VIEWS}
    assert {path for path, _, _ in CALLS} == set(by_path)
    for path, query, match in CALLS:
        for headers, status in (({"Authorization": "Bearer acme-token"}, "200"), ({}, "401")):
            request = make_mocked_request("GET", f"/{query}", headers=headers, match_info=match)
            response = await by_path[path](app, app.web).dispatch(request)
            assert str(response.status) == status, path
            body = json.loads(response.body)
            jsonschema.validate(body, answers_schema(document, path, status))
            assert "offset" not in json.dumps(body)


async def test_the_asset_counts_answer_documents_its_baseline() -> None:
    schemas = (await served_document())["components"]["schemas"]
    baseline = schemas["AssetCount"]["properties"]["baseline"]
    assert {"$ref": "#/components/schemas/AssetBaseline"} in baseline["anyOf"]
    assert set(schemas["AssetBaseline"]["required"]) == {
        "baselineId",
        "takenAt",
        "receivedAt",
        "totalCount",
        "assignedCount",
        "availableCount",
    }
