"""POST /v1/app-notifications: the JWT checks, ownership by tenantId, replay protection."""

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from schemas import headers as h
from switchboard.tenantsfile import write_tenants
from tests.unit.gateway.support import (
    ACME_TENANT_ID,
    ACME_TOKEN,
    AMS_AUD,
    AMS_ISS,
    AMS_OLD_SECRET,
    ASYM_AUD,
    EC_ISS,
    GLOBEX_TENANT_ID,
    RSA_ISS,
    MemoryPublisher,
    ams_jwt,
    app_body,
    app_claims,
    assert_problem,
    bearer,
    ec_key,
    example_bytes,
    hs256,
    public_pem,
    rsa_key,
    tenants_config,
    unavailable,
)

URL = "/v1/app-notifications"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


async def post(client: httpx.AsyncClient, token: str, body: bytes | None = None) -> httpx.Response:
    return await client.post(URL, content=body or app_body(), headers=bearer(token))


def unsigned(claims: dict[str, Any], alg: str = "none") -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}."


async def test_sample_request_body_is_published_keyed_by_tenant_id(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    body = example_bytes("app_tenant_rest_url_change")
    response = await post(client, ams_jwt(), body)

    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "eventId": json.loads(body)["eventId"]}
    [record] = publisher.records
    assert (record.key, record.value) == (ACME_TENANT_ID.encode(), body)
    assert record.headers[h.SOURCE] == h.SOURCE_APP.encode()
    assert record.headers[h.TENANT] == b"acme"


async def test_previous_secret_still_verifies(client: httpx.AsyncClient) -> None:
    assert (await post(client, ams_jwt(AMS_OLD_SECRET))).status_code == 202


async def test_millisecond_timestamps_are_understood(client: httpx.AsyncClient) -> None:
    now_ms = int(time.time() * 1000)
    token = ams_jwt(iat=now_ms, exp=now_ms + 60_000)
    assert (await post(client, token)).status_code == 202


@pytest.mark.parametrize("drop", [(), ("jti",)], ids=["null-jti", "no-jti"])
async def test_a_token_without_jti_is_accepted_once(
    client: httpx.AsyncClient, publisher: MemoryPublisher, drop: tuple[str, ...]
) -> None:
    """The sender's own sample has `jti: null`: its signed part is its replay key."""
    token = ams_jwt(sub=None, jti=None, drop=drop)
    assert (await post(client, token)).status_code == 202
    replay = await post(client, token)  # a new eventId: only the token is the same
    assert "already used" in str(assert_problem(replay, 401)["detail"])
    assert len(publisher.records) == 1


async def test_a_refused_jti_less_token_can_be_used_again(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    token = ams_jwt(jti=None)
    publisher.failure = unavailable()
    assert_problem(await post(client, token), 503)
    assert_problem(await post(client, token, app_body(GLOBEX_TENANT_ID)), 403)
    publisher.failure = None
    assert (await post(client, token)).status_code == 202
    assert_problem(await post(client, token), 401)
    assert len(publisher.records) == 1


async def test_an_es256_signature_twin_is_still_a_replay(client: httpx.AsyncClient) -> None:
    """ECDSA's (r, s) and (r, n - s) both verify: keying jti-less tokens by their
    signature would let a captured token in twice."""
    claims = app_claims(iss=EC_ISS, aud=ASYM_AUD, jti=None)
    token = jwt.encode(claims, ec_key(), algorithm="ES256")
    signed, _, signature = token.rpartition(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    twin_s = (P256_ORDER - s).to_bytes(32, "big")
    twin = signed + "." + base64.urlsafe_b64encode(r + twin_s).decode().rstrip("=")
    assert twin != token
    jwt.api_jws.decode(twin, ec_key().public_key(), algorithms=["ES256"])  # it verifies
    body = app_body(GLOBEX_TENANT_ID)
    assert (await post(client, token, body)).status_code == 202
    assert "already used" in str(assert_problem(await post(client, twin, body), 401)["detail"])


async def test_the_senders_30_hour_ms_token_passes_an_issuer_allowing_it(
    app: FastAPI, client: httpx.AsyncClient, tenants_file: Path
) -> None:
    now_ms = int(time.time() * 1000)
    token = ams_jwt(iat=now_ms - 60_000, exp=now_ms - 60_000 + 108_000_000, jti=None)
    assert "lives 108000 s" in str(assert_problem(await post(client, token), 401)["detail"])
    config = tenants_config()
    config["app_issuers"][0]["max_lifetime_s"] = 30 * 3600
    write_tenants(tenants_file, config)
    assert app.state.gateway.tenants.reload() is True
    assert (await post(client, token)).status_code == 202


async def test_rs256_and_es256_issuers(client: httpx.AsyncClient) -> None:
    body = app_body(GLOBEX_TENANT_ID)
    for iss, key, alg in ((RSA_ISS, rsa_key(), "RS256"), (EC_ISS, ec_key(), "ES256")):
        token = jwt.encode(app_claims(iss=iss, aud=ASYM_AUD), key, algorithm=alg)
        assert (await post(client, token, body)).status_code == 202, alg


def _bad_tokens() -> dict[str, tuple[str, str]]:
    """Case -> (token, the auth-failure reason the gateway must record)."""
    now = int(time.time())
    return {
        "signed with another secret": (
            ams_jwt("not-the-ams-secret-0123456789abcdef"),
            "bad_signature",
        ),
        "expired": (ams_jwt(iat=now - 200, exp=now - 100), "expired"),
        "issued in the future": (ams_jwt(iat=now + 600, exp=now + 650), "issued_in_future"),
        "lifetime too long": (ams_jwt(iat=now, exp=now + 3600), "lifetime"),
        "ms timestamps, lifetime of the document's sample (30 h)": (
            ams_jwt(iat=now * 1000 - 108_000_000 + 60_000, exp=now * 1000 + 60_000),
            "lifetime",
        ),
        "lifetime 90 s, cap 60 s, leeway 30 s": (ams_jwt(iat=now, exp=now + 90), "lifetime"),
        "no iat": (ams_jwt(drop=("iat",)), "missing_iat"),
        "null iat": (ams_jwt(iat=None), "missing_iat"),
        "exp 10**400": (ams_jwt(exp=10**400), "bad_claim"),
        "iat 10**400": (ams_jwt(iat=10**400), "bad_claim"),
        "exp negative": (ams_jwt(exp=-(10**400)), "bad_claim"),
        "iat negative": (ams_jwt(iat=-1), "bad_claim"),
        "nbf 10**400": (ams_jwt(nbf=10**400), "bad_claim"),
        "no exp": (ams_jwt(drop=("exp",)), "missing_exp"),
        "null exp": (ams_jwt(exp=None), "missing_exp"),
        "exp not a number": (ams_jwt(exp="tomorrow"), "bad_claim"),
        "exp a boolean": (ams_jwt(exp=True), "bad_claim"),
        "jti a number": (ams_jwt(jti=7), "bad_claim"),
        "wrong aud": (ams_jwt(aud="someone-else"), "audience"),
        "wrong iss": (ams_jwt(iss="not-ams"), "unknown_issuer"),
        "null iss": (ams_jwt(iss=None), "unknown_issuer"),
        "iss a list": (ams_jwt(iss=[AMS_ISS]), "unknown_issuer"),
        "alg none": (unsigned(app_claims()), "algorithm"),
        "alg NONE": (unsigned(app_claims(), alg="NONE"), "algorithm"),
        "HS256 signed with the RS issuer's public key": (_hs256_with_public_key(), "algorithm"),
        "RS256 from an HS256 issuer": (
            jwt.encode(app_claims(), rsa_key(), algorithm="RS256"),
            "algorithm",
        ),
        "not a JWT": ("hello", "malformed"),
        "garbage segments": ("a.b.c", "malformed"),
    }


def _hs256_with_public_key() -> str:
    """The classic confusion: the RSA public key (public!) used as an HMAC secret."""
    return hs256(app_claims(iss=RSA_ISS, aud=ASYM_AUD), public_pem(rsa_key()))


@pytest.mark.parametrize("case", list(_bad_tokens()))
async def test_bad_jwt_is_401_and_nothing_is_published(
    app: FastAPI, client: httpx.AsyncClient, publisher: MemoryPublisher, case: str
) -> None:
    token, reason = _bad_tokens()[case]
    body = app_body(GLOBEX_TENANT_ID) if "RS issuer" in case else app_body()
    response = await post(client, token, body)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert publisher.records == []
    registry = app.state.gateway.metrics.registry
    labels = {"route": URL, "reason": reason}
    assert registry.get_sample_value("switchboard_gateway_auth_failures_total", labels) == 1


async def test_failures_before_the_signature_all_read_the_same(client: httpx.AsyncClient) -> None:
    tokens = _bad_tokens()
    same = ["signed with another secret", "wrong iss", "alg none", "not a JWT"]
    details = {(await post(client, tokens[name][0])).json()["detail"] for name in same}
    assert len(details) == 1


async def test_verified_token_failures_name_the_claim(client: httpx.AsyncClient) -> None:
    tokens = _bad_tokens()
    for case, word in (
        ("expired", "expired"),
        ("issued in the future", "iat"),
        ("wrong aud", "aud"),
        ("lifetime too long", "exp - iat"),
        ("no iat", "iat claim"),
        ("exp 10**400", "exp claim is out of range"),
    ):
        assert word in (await post(client, tokens[case][0])).json()["detail"]


async def test_replayed_jti_is_401(client: httpx.AsyncClient, publisher: MemoryPublisher) -> None:
    token = ams_jwt()
    assert (await post(client, token)).status_code == 202
    replay = await post(client, token)
    assert "already used" in assert_problem(replay, 401)["detail"]  # type: ignore[operator]
    assert len(publisher.records) == 1


async def test_jti_of_a_refused_request_can_be_used_again(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    """A 503 is not an acceptance: the sender's retry with the same token must work."""
    token = ams_jwt()
    publisher.failure = unavailable()
    assert_problem(await post(client, token), 503)
    publisher.failure = None
    assert (await post(client, token)).status_code == 202


async def test_another_tenants_tenant_id_is_403(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    problem = assert_problem(await post(client, ams_jwt(), app_body(GLOBEX_TENANT_ID)), 403)
    assert GLOBEX_TENANT_ID in str(problem["detail"])
    assert publisher.records == []


async def test_bearer_token_of_a_tenant_is_not_a_jwt(client: httpx.AsyncClient) -> None:
    assert_problem(await post(client, ACME_TOKEN), 401)


async def test_schema_violation_names_the_field(client: httpx.AsyncClient) -> None:
    body = json.loads(app_body())
    del body["data"]["notificationData"]["tenantId"]
    response = await post(client, ams_jwt(), json.dumps(body).encode())
    assert assert_problem(response, 422)["detail"] == (
        "data.notificationData.tenantId: Field required"
    )


def test_sample_payload_audience_matches_the_test_issuer() -> None:
    sample = json.loads(example_bytes("app_jwt_payload"))
    assert (sample["iss"], sample["aud"]) == (AMS_ISS, AMS_AUD)


async def test_unknown_event_type_is_accepted(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    body = json.loads(app_body())
    body["eventType"] = body["data"]["notificationType"] = "TENANT_DELETED"
    content = json.dumps(body).encode()
    assert (await post(client, ams_jwt(), content)).status_code == 202
    assert publisher.records[0].value == content
