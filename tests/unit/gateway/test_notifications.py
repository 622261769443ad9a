"""POST /v1/notifications through the ASGI app, with an in-memory publisher: every answer."""

import hashlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from schemas import headers as h
from tests.examples import APPLE_EXAMPLES
from tests.unit.gateway.support import (
    ACME_TOKEN,
    ACME_UID,
    GLOBEX_TOKEN,
    GLOBEX_UID,
    SLOW_TOKEN,
    SLOW_UID,
    MemoryPublisher,
    apple_body,
    assert_problem,
    bearer,
    example_bytes,
    timed_out,
    unavailable,
)

URL = "/v1/notifications"


@pytest.mark.parametrize("name", APPLE_EXAMPLES)
async def test_seed_example_is_published_byte_for_byte(
    client: httpx.AsyncClient, publisher: MemoryPublisher, name: str
) -> None:
    body = example_bytes(name)
    response = await client.post(URL, content=body, headers=bearer(ACME_TOKEN))

    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer == {"status": "accepted", "notificationId": json.loads(body)["notificationId"]}
    [record] = publisher.records
    assert (record.topic, record.key, record.value) == ("raw-test", ACME_UID.encode(), body)
    assert record.headers[h.TENANT] == b"acme"
    assert record.headers[h.SOURCE] == h.SOURCE_APPLE.encode()
    assert record.headers[h.CONTENT_SHA256] == hashlib.sha256(body).hexdigest().encode()
    assert record.headers[h.REQUEST_ID] == response.headers["x-request-id"].encode()
    assert int(record.headers[h.RECEIVED_AT]) > 1_700_000_000_000  # epoch milliseconds


async def test_generic_envelope_example_is_a_schema_violation(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    """Apple's common-fields example has `notification: {...}`: not a valid ASSET_MANAGEMENT."""
    response = await client.post(
        URL, content=example_bytes("apple_envelope"), headers=bearer(ACME_TOKEN)
    )
    problem = assert_problem(response, 422)
    assert str(problem["detail"]).startswith("notification.")
    assert publisher.records == []


async def test_unknown_notification_type_is_accepted(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    body = apple_body(notification_type="SUBSCRIPTION_COUNT")
    response = await client.post(URL, content=body, headers=bearer(ACME_TOKEN))
    assert response.status_code == 202
    assert publisher.records[0].value == body


async def test_request_id_is_kept_when_sane_and_replaced_otherwise(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    sane = {**bearer(ACME_TOKEN), "X-Request-ID": "apple-retry-42"}
    response = await client.post(URL, content=apple_body(), headers=sane)
    assert response.headers["x-request-id"] == "apple-retry-42"
    assert publisher.records[0].headers[h.REQUEST_ID] == b"apple-retry-42"

    insane = {**bearer(ACME_TOKEN), "X-Request-ID": "x" * 300}
    response = await client.post(URL, content=apple_body(), headers=insane)
    assert len(response.headers["x-request-id"]) == 32


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        "Bearer",
        "Bearer ",
        "bearer nope",
        f"Bearer {ACME_TOKEN}x",
        "Bearer " + "a" * 100_000,
    ],
)
async def test_bad_credentials_get_401_with_a_challenge(
    client: httpx.AsyncClient, publisher: MemoryPublisher, authorization: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await client.post(URL, content=apple_body(), headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert publisher.records == []


async def test_unknown_and_wrong_tokens_get_the_same_answer(client: httpx.AsyncClient) -> None:
    answers = []
    for token in ("never-issued", ACME_TOKEN[:-1], ACME_TOKEN + "0", GLOBEX_TOKEN.upper()):
        response = await client.post(URL, content=apple_body(), headers=bearer(token))
        problem = assert_problem(response, 401)
        del problem["requestId"]
        answers.append((problem, response.headers["www-authenticate"]))
    assert all(answer == answers[0] for answer in answers)


async def test_credentials_are_checked_before_the_body(client: httpx.AsyncClient) -> None:
    headers = {"Authorization": "Bearer nope", "Content-Type": "text/plain"}
    response = await client.post(URL, content=b"\xff" * 2_000_000, headers=headers)
    assert_problem(response, 401)


async def test_another_tenants_uid_is_403_and_nothing_is_published(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    response = await client.post(URL, content=apple_body(GLOBEX_UID), headers=bearer(ACME_TOKEN))
    problem = assert_problem(response, 403)
    assert GLOBEX_UID in str(problem["detail"])
    response = await client.post(URL, content=apple_body(ACME_UID), headers=bearer(GLOBEX_TOKEN))
    assert_problem(response, 403)
    assert publisher.records == []


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "application/json; charset=latin-1",
        "multipart/form-data; boundary=x",
    ],
)
async def test_non_json_content_type_is_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"Authorization": f"Bearer {ACME_TOKEN}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    assert_problem(await client.post(URL, content=apple_body(), headers=headers), 415)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        'application/json;charset="UTF-8"',
        "application/vnd.apple+json",
    ],
)
async def test_json_content_types_are_accepted(
    client: httpx.AsyncClient, content_type: str
) -> None:
    headers = {"Authorization": f"Bearer {ACME_TOKEN}", "Content-Type": content_type}
    assert (await client.post(URL, content=apple_body(), headers=headers)).status_code == 202


async def test_body_over_the_limit_is_413_declared_or_streamed(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    big = apple_body(padding="x" * (1024 * 1024))
    assert_problem(await client.post(URL, content=big, headers=bearer(ACME_TOKEN)), 413)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    response = await client.post(URL, content=chunks(), headers=bearer(ACME_TOKEN))
    assert_problem(response, 413)
    assert publisher.records == []


async def test_body_just_under_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    body = apple_body(padding="")
    body = apple_body(padding="x" * (1024 * 1024 - len(body)))
    assert len(body) == 1024 * 1024
    response = await client.post(URL, content=body, headers=bearer(ACME_TOKEN))
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "EOF"),
        (b"{", "EOF"),
        (b"{'uId': 1}", "JSON"),
        (b"\xff\xfe{}", "JSON"),
        (b'{"a": NaN}', "JSON"),
        (b'{"a": 1e400}', "JSON"),
        (b"[" * 10_000, "JSON"),
        (b'{"a": 1' + b"0" * 5000 + b"}", "JSON"),
    ],
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, body: bytes, words: str) -> None:
    problem = assert_problem(await client.post(URL, content=body, headers=bearer(ACME_TOKEN)), 400)
    assert words in str(problem["detail"])


async def test_duplicate_keys_are_400(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    """A parser keeping the first uId would route this to globex: ambiguous, refused."""
    body = apple_body(GLOBEX_UID)[:-1] + f', "uId": "{ACME_UID}"}}'.encode()
    problem = assert_problem(await client.post(URL, content=body, headers=bearer(ACME_TOKEN)), 400)
    assert "uId" in str(problem["detail"])
    assert publisher.records == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"uId": 2049025000431439}, "uId"),
        ({"uId": ""}, "uId"),
        ({"notificationId": None}, "notificationId"),
        (
            {"notification": {"adamId": "1", "countDelta": "12", "pricingParam": "STDQ"}},
            "notification.countDelta",
        ),
        ({"notification": []}, "notification"),
    ],
)
async def test_schema_violation_is_422_naming_the_field(
    client: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    body = json.loads(example_bytes("apple_asset_count"))
    body.update(change)
    response = await client.post(URL, content=json.dumps(body), headers=bearer(ACME_TOKEN))
    problem = assert_problem(response, 422)
    assert str(problem["detail"]).startswith(f"{field}:")
    assert problem["errors"][0]["field"] == field  # type: ignore[index]


async def test_top_level_not_an_object_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, content=b"[]", headers=bearer(ACME_TOKEN))
    assert assert_problem(response, 422)["errors"][0]["field"] == "(body)"  # type: ignore[index]


async def test_rate_limit_is_429_with_retry_after(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    first = await client.post(URL, content=apple_body(SLOW_UID), headers=bearer(SLOW_TOKEN))
    second = await client.post(URL, content=apple_body(SLOW_UID), headers=bearer(SLOW_TOKEN))
    assert first.status_code == 202
    assert_problem(second, 429)
    assert int(second.headers["retry-after"]) >= 1
    assert len(publisher.records) == 1
    other = await client.post(URL, content=apple_body(), headers=bearer(ACME_TOKEN))
    assert other.status_code == 202  # the limit is per tenant


@pytest.mark.parametrize("failure", [unavailable(), timed_out()])
async def test_kafka_failure_is_503_with_retry_after(
    client: httpx.AsyncClient, publisher: MemoryPublisher, failure: Exception
) -> None:
    publisher.failure = failure
    response = await client.post(URL, content=apple_body(), headers=bearer(ACME_TOKEN))
    assert_problem(response, 503)
    assert int(response.headers["retry-after"]) > 0


async def test_other_methods_are_405(client: httpx.AsyncClient) -> None:
    response = await client.get(URL, headers=bearer(ACME_TOKEN))
    assert_problem(response, 405)
    assert response.headers["allow"] == "POST"
    assert_problem(await client.get("/v1/nowhere"), 404)
