"""Integers beyond signed 64 bits get a 422 naming the field, and nothing is published;
the bounds themselves are accepted."""

import json

import httpx
import pytest

from tests.unit.gateway.support import ACME_TOKEN, MemoryPublisher, bearer, example_bytes

URL = "/v1/notifications"


def with_number(example: str, path: tuple[str, ...], number: int) -> bytes:
    body = json.loads(example_bytes(example))
    target = body
    for step in path[:-1]:
        target = target.setdefault(step, {})
    target[path[-1]] = number
    if "error" in path:
        body["notification"]["result"] = "FAILURE"
    return json.dumps(body).encode()


FIELDS = [
    ("apple_asset_count", ("notification", "countDelta")),
    ("apple_asset_management_associate", ("notification", "error", "errorNumber")),
    ("apple_user_management_create", ("notification", "error", "errorNumber")),
]


@pytest.mark.parametrize(("example", "path"), FIELDS, ids=[e for e, _ in FIELDS])
@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, -(2**64), 10**30])
async def test_an_integer_beyond_64_bits_is_422_naming_the_field(
    client: httpx.AsyncClient,
    publisher: MemoryPublisher,
    example: str,
    path: tuple[str, ...],
    number: int,
) -> None:
    body = with_number(example, path, number)
    response = await client.post(URL, content=body, headers=bearer(ACME_TOKEN))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    field = ".".join(path)
    assert str(response.json()["detail"]).startswith(field)
    assert all(e["field"].startswith(field) for e in response.json()["errors"])
    assert publisher.records == []
    bound = 2**63 - 1 if number > 0 else -(2**63)  # the nearest number that fits is accepted
    response = await client.post(
        URL, content=with_number(example, path, bound), headers=bearer(ACME_TOKEN)
    )
    assert response.status_code == 202, response.text
    assert len(publisher.records) == 1
