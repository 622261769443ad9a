"""POST /v1/asset-baselines through the ASGI app, with an in-memory publisher."""

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from schemas import headers as h
from tests.unit.gateway.support import (
    ACME_TOKEN,
    ACME_UID,
    GLOBEX_UID,
    MemoryPublisher,
    bearer,
    unavailable,
)

URL = "/v1/asset-baselines"
GET_ASSETS = Path(__file__).parents[2] / "fixtures" / "get_assets.json"


def baseline(uid: str = ACME_UID, **changes: Any) -> bytes:
    document: dict[str, Any] = json.loads(GET_ASSETS.read_bytes())
    document.update({"uId": uid, "baselineId": "b-1", "takenAt": 1_764_587_700_000, **changes})
    return json.dumps(document).encode()


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["detail"]
    assert problem["requestId"] == response.headers["x-request-id"]
    return problem


async def test_a_baseline_is_published_byte_for_byte_keyed_by_its_uid(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    body = baseline()
    response = await client.post(URL, content=body, headers=bearer(ACME_TOKEN))

    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "baselineId": "b-1"}
    [record] = publisher.records
    assert (record.topic, record.key, record.value) == ("raw-test", ACME_UID.encode(), body)
    assert record.headers[h.SOURCE] == b"baseline"
    assert record.headers[h.TENANT] == b"acme"
    assert record.headers[h.CONTENT_SHA256] == hashlib.sha256(body).hexdigest().encode()
    assert record.headers[h.REQUEST_ID] == response.headers["x-request-id"].encode()
    assert int(record.headers[h.RECEIVED_AT]) > 1_700_000_000_000


async def test_another_tenants_uid_is_403_and_not_published(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    response = await client.post(URL, content=baseline(GLOBEX_UID), headers=bearer(ACME_TOKEN))
    problem = assert_problem(response, 403)
    assert GLOBEX_UID in problem["detail"]
    assert publisher.records == []


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic YTpi"])
async def test_without_a_valid_token_401(
    client: httpx.AsyncClient, publisher: MemoryPublisher, authorization: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await client.post(URL, content=baseline(), headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert publisher.records == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (baseline(takenAt="yesterday"), "takenAt"),
        (baseline(baselineId=""), "baselineId"),
        (baseline(assets=[{"adamId": "1", "pricingParam": "STDQ", "totalCount": -3}]), "assets[0]"),
        (json.dumps({"assets": []}).encode(), "baselineId"),
        (json.dumps(["not", "an", "object"]).encode(), "(body)"),
    ],
)
async def test_a_body_that_is_not_a_baseline_is_422_naming_the_field(
    client: httpx.AsyncClient, publisher: MemoryPublisher, body: bytes, field: str
) -> None:
    response = await client.post(URL, content=body, headers=bearer(ACME_TOKEN))
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"].startswith(field), problem
    assert publisher.records == []


async def test_a_snapshot_from_the_future_is_422(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    later = int(time.time() * 1000) + 10 * 60 * 1000  # beyond any clock skew
    response = await client.post(URL, content=baseline(takenAt=later), headers=bearer(ACME_TOKEN))
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "takenAt"
    assert publisher.records == []
    now = int(time.time() * 1000)
    response = await client.post(URL, content=baseline(takenAt=now), headers=bearer(ACME_TOKEN))
    assert response.status_code == 202


async def test_not_json_is_400_and_not_json_content_is_415(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post(URL, content=b"{", headers=bearer(ACME_TOKEN)), 400)
    plain = {**bearer(ACME_TOKEN), "Content-Type": "text/plain"}
    assert_problem(await client.post(URL, content=baseline(), headers=plain), 415)


async def test_503_when_kafka_does_not_store_it(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    publisher.failure = unavailable()
    response = await client.post(URL, content=baseline(), headers=bearer(ACME_TOKEN))
    assert_problem(response, 503)
    assert "retry-after" in response.headers


async def test_requests_are_counted_under_their_route_and_tenant(
    client: httpx.AsyncClient,
) -> None:
    await client.post(URL, content=baseline(), headers=bearer(ACME_TOKEN))
    metrics = (await client.get("/metrics")).text
    assert f'route="{URL}",status="202",tenant="acme"' in metrics


async def test_the_openapi_document_describes_the_endpoint(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    validate(document)
    post = document["paths"][URL]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/AssetBaseline"}
    assert post["security"] == [{"tenantToken": []}]
    assert {"202", "401", "403", "422", "503"} <= set(post["responses"])
    assert "application/problem+json" in post["responses"]["403"]["content"]
    components = document["components"]["schemas"]
    assert {"AssetBaseline", "BaselineAsset", "AcceptedBaseline"} <= set(components)
