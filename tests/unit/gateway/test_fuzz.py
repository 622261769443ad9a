"""Property: whatever a sender puts in the body, headers and content type, the gateway
answers 2xx only for a stored record and never 5xx (a 5xx would be our bug)."""

import json
import time
from typing import Any

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.unit.gateway.support import (
    ACME_TOKEN,
    ACME_UID,
    AMS_AUD,
    AMS_ISS,
    AMS_SECRET,
    MemoryPublisher,
    app_body,
    example_bytes,
    hs256,
)

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Header values a real HTTP server can hand over: latin-1, no control characters.
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=120,
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=15,
)
VALID_BYTES = example_bytes("apple_asset_management_associate")
VALID = json.loads(VALID_BYTES)
JSON = b"application/json"
JSON_TYPES = ["application/json", "application/json; charset=UTF-8", "application/x+json"]
NASTY = [
    b"",
    b"null",
    b"[" * 5000,
    b'{"uId":' * 3000,
    b'{"a": 1' + b"9" * 5000 + b"}",
    b'{"a": -1e999}',
    b'{"a": "\\ud800"}',
    b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
    b"\x00" * 64,
    json.dumps({**VALID, "uId": ACME_UID * 1000}).encode(),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid notification with one field replaced by, or added as, any JSON value."""
    body: dict[str, Any] = json.loads(json.dumps(VALID))
    target = draw(
        st.sampled_from([body, body["notification"], body["notification"]["assignments"][0]])
    )
    key = draw(st.sampled_from([*target, draw(st.text(max_size=8))]))
    if draw(st.booleans()):
        target[key] = draw(JSON_VALUES)
    else:
        target.pop(key, None)
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode()


BODIES = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    mutated(),
    st.sampled_from(NASTY),
)
CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"]),
    HEADER_TEXT,
)
AUTHORIZATIONS = st.one_of(
    st.just(f"Bearer {ACME_TOKEN}"),
    st.none(),
    HEADER_TEXT,
    HEADER_TEXT.map(lambda t: f"Bearer {ACME_TOKEN}{t}"),
    st.integers(0, 20_000).map(lambda n: "Bearer " + "x" * n),
)


def _headers(
    content_type: str | None, authorization: str | None, request_id: str | None
) -> dict[bytes, bytes]:
    headers: dict[bytes, bytes] = {}
    for name, value in (
        (b"Content-Type", content_type),
        (b"Authorization", authorization),
        (b"X-Request-ID", request_id),
    ):
        if value is not None:
            headers[name] = value.encode("latin-1")
    return headers


def _check(response: httpx.Response, publisher: MemoryPublisher, before: int, body: bytes) -> None:
    assert response.status_code < 500, response.text
    event(f"status {response.status_code}")
    if response.status_code < 300:
        assert response.status_code == 202
        assert len(publisher.records) == before + 1
        assert publisher.records[-1].value == body
    else:
        assert len(publisher.records) == before
        assert response.headers["content-type"] == "application/problem+json"


@FUZZ
@given(body=BODIES, content_type=st.sampled_from(JSON_TYPES))
async def test_any_body_from_an_authenticated_sender_is_202_or_4xx(
    client: httpx.AsyncClient, publisher: MemoryPublisher, body: bytes, content_type: str
) -> None:
    before = len(publisher.records)
    headers = {"Authorization": f"Bearer {ACME_TOKEN}", "Content-Type": content_type}
    response = await client.post("/v1/notifications", content=body, headers=headers)
    _check(response, publisher, before, body)


@FUZZ
@given(
    body=st.one_of(st.just(VALID_BYTES), BODIES),
    content_type=CONTENT_TYPES,
    authorization=AUTHORIZATIONS,
    request_id=st.none() | HEADER_TEXT,
)
async def test_any_headers_are_202_or_4xx_and_401_without_credentials(
    client: httpx.AsyncClient,
    publisher: MemoryPublisher,
    body: bytes,
    content_type: str | None,
    authorization: str | None,
    request_id: str | None,
) -> None:
    before = len(publisher.records)
    headers = _headers(content_type, authorization, request_id)
    response = await client.post("/v1/notifications", content=body, headers=headers)
    _check(response, publisher, before, body)
    # Whitespace around a header value is not part of it (RFC 9110, 5.5).
    if (authorization or "").strip(" \t") != f"Bearer {ACME_TOKEN}":
        assert response.status_code == 401


CLAIM_NAMES = ["iss", "aud", "exp", "iat", "nbf", "jti", "sub"]


@FUZZ
@given(
    claims=st.dictionaries(st.sampled_from(CLAIM_NAMES), JSON_VALUES, max_size=7),
    keep_valid=st.sets(st.sampled_from(CLAIM_NAMES)),
    raw_token=st.none() | HEADER_TEXT,
    body=st.one_of(st.none(), BODIES),
)
async def test_any_jwt_is_202_or_4xx(
    client: httpx.AsyncClient,
    publisher: MemoryPublisher,
    claims: dict[str, Any],
    keep_valid: set[str],
    raw_token: str | None,
    body: bytes | None,
) -> None:
    """Tokens signed with the right secret but any claim values, or no JWT at all."""
    now = int(time.time())
    valid = {"iss": AMS_ISS, "aud": AMS_AUD, "iat": now, "exp": now + 60}
    merged = {**claims, **{k: v for k, v in valid.items() if k in keep_valid}}
    token = raw_token if raw_token is not None else hs256(merged, AMS_SECRET)
    content = app_body() if body is None else body
    headers = {b"Authorization": f"Bearer {token}".encode("latin-1"), b"Content-Type": JSON}
    before = len(publisher.records)
    response = await client.post("/v1/app-notifications", content=content, headers=headers)
    _check(response, publisher, before, content)
