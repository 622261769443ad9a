"""JWT claims off the happy path: numbers no date can be, the sender's own sample, tokens
without a jti, and replay memory that one issuer cannot empty for another."""

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt as pyjwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import AuthenticationError
from gateway.replay import ReplayCache
from schemas.tenants import TenantDirectory
from tests.examples import example_bytes
from tests.unit.gateway.support import (
    AMS_SECRET,
    ASYM_AUD,
    RSA_ISS,
    VerifyOnce,
    ams_jwt,
    app_claims,
    hs256,
    rsa_key,
    tenants_config,
)

NOW = 1_800_000_000.0
OUT_OF_RANGE = [10**400, -(10**400), 10**20, 10**14 + 1, -1, -0.5, 1e300, -1e300]


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def verifier(clock: Clock | None = None, cache_size: int = 100) -> VerifyOnce:
    clock = clock or Clock()
    return VerifyOnce(30, ReplayCache(cache_size, clock), clock)


def directory(config: dict[str, Any] | None = None) -> TenantDirectory:
    return TenantDirectory.from_mapping(config or tenants_config())


def refusal(token: str, jwt: VerifyOnce | None = None, clock: Clock | None = None) -> str:
    with pytest.raises(AuthenticationError) as caught:
        (jwt or verifier(clock)).verify(directory(), f"Bearer {token}")
    return caught.value.reason


@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=str)
@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_a_number_no_date_can_be_is_a_bad_claim(claim: str, value: float) -> None:
    """10**400 is valid JSON and a valid Python int, but no float: once a 500."""
    claims: dict[str, Any] = {"iat": NOW, "exp": NOW + 60, claim: value}
    token = hs256(app_claims(**claims), AMS_SECRET)
    assert refusal(token) == "bad_claim"


def sign_raw(payload: str) -> str:
    """An HS256 token over this exact JSON text (json.dumps cannot write 1e400)."""

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).decode().rstrip("=")

    head = part(b'{"alg":"HS256","typ":"JWT"}') + "." + part(payload.encode())
    mac = hmac.new(AMS_SECRET.encode(), head.encode(), hashlib.sha256).digest()
    return f"{head}.{part(mac)}"


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN", "1e400", "-1e400"])
def test_json_literals_beyond_floats_are_a_bad_claim(literal: str) -> None:
    claims = json.dumps(app_claims(iat=NOW, exp=12345)).replace("12345", literal)
    assert refusal(sign_raw(claims)) == "bad_claim"


NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=10**14, max_value=10**1000),
    st.integers(min_value=-(10**1000), max_value=0),
    st.floats(),
)


@settings(max_examples=300, deadline=None)
@given(exp=NUMBERS, iat=NUMBERS, nbf=st.none() | NUMBERS)
def test_any_numbers_are_accepted_or_refused_never_a_crash(
    exp: float, iat: float, nbf: float | None
) -> None:
    claims: dict[str, Any] = {"exp": exp, "iat": iat}
    if nbf is not None:
        claims["nbf"] = nbf
    token = hs256(app_claims(**claims), AMS_SECRET)
    try:
        caller = verifier().verify(directory(), f"Bearer {token}")
    except AuthenticationError as exc:
        assert exc.reason in {
            "bad_claim",
            "expired",
            "issued_in_future",
            "not_yet_valid",
            "lifetime",
        }
    else:
        assert caller.tenant.id == "acme"


def sample_token() -> str:
    """The sender's documented sample: ms timestamps, 30 hours, `jti: null`."""
    return hs256(json.loads(example_bytes("app_jwt_payload")), AMS_SECRET)


SAMPLE_IAT_S = 1506964485  # the sample's iat, in seconds


def with_lifetime(max_lifetime_s: float) -> TenantDirectory:
    config = tenants_config()
    config["app_issuers"][0]["max_lifetime_s"] = max_lifetime_s
    return directory(config)


def test_the_senders_sample_passes_when_the_issuer_allows_30_hours() -> None:
    clock = Clock(SAMPLE_IAT_S + 3600)
    jwt = verifier(clock)
    caller = jwt.verify(with_lifetime(30 * 3600), f"Bearer {sample_token()}")
    assert caller.issuer.iss == "ams"
    with pytest.raises(AuthenticationError) as caught:  # jti null: still single-use
        jwt.verify(with_lifetime(30 * 3600), f"Bearer {sample_token()}")
    assert caught.value.reason == "replay"


def test_the_senders_sample_fails_the_default_60_s_as_lifetime() -> None:
    clock = Clock(SAMPLE_IAT_S + 3600)
    with pytest.raises(AuthenticationError, match="lives 108000 s") as caught:
        verifier(clock).verify(with_lifetime(60), f"Bearer {sample_token()}")
    assert caught.value.reason == "lifetime"


@pytest.mark.parametrize("jti", [None, "", "drop"], ids=["null", "empty", "missing"])
def test_a_token_without_a_usable_jti_is_accepted_once(jti: str | None) -> None:
    token = (
        ams_jwt(iat=NOW, exp=NOW + 60, drop=("jti",))
        if jti == "drop"
        else ams_jwt(iat=NOW, exp=NOW + 60, jti=jti)
    )
    jwt = verifier()
    jwt.verify(directory(), f"Bearer {token}")
    assert refusal(token, jwt) == "replay"
    other = ams_jwt(iat=NOW + 1, exp=NOW + 61, jti=None)  # another token: its own key
    jwt.verify(directory(), f"Bearer {other}")


def test_a_released_jti_less_token_may_be_used_again() -> None:
    jwt = verifier()
    token = ams_jwt(iat=NOW, exp=NOW + 60, jti=None)
    jwt.release(jwt.verify(directory(), f"Bearer {token}"))
    jwt.verify(directory(), f"Bearer {token}")
    assert refusal(token, jwt) == "replay"


def test_a_jti_less_token_is_remembered_until_it_expires() -> None:
    clock = Clock()
    jwt = verifier(clock)
    token = ams_jwt(iat=NOW, exp=NOW + 60, jti=None)
    jwt.verify(directory(), f"Bearer {token}")
    clock.now = NOW + 90  # exp + leeway: still remembered
    assert refusal(token, jwt) == "replay"
    clock.now = NOW + 91
    assert refusal(token, jwt) == "expired"


def test_replay_memory_is_per_issuer() -> None:
    """A flood of one issuer's ids pushes out its own entries only."""
    clock = Clock()
    cache = ReplayCache(3, clock)
    assert cache.reserve(("b", "kept"), NOW + 1)  # the soonest to expire of all
    for i in range(50):
        assert cache.reserve(("a", str(i)), NOW + 60 + i)
    assert not cache.reserve(("b", "kept"), NOW + 1)
    assert len(cache) == 3 + 1  # a's three newest and b's one
    assert cache.reserve(("a", "0"), NOW + 60)  # a's oldest was forgotten


def test_one_issuers_tokens_cannot_evict_another_issuers() -> None:
    """Through the verifier: acme's issuer floods, globex's replayed token is still refused."""
    clock = Clock()
    jwt = verifier(clock, cache_size=5)
    claims = app_claims(iss=RSA_ISS, aud=ASYM_AUD, iat=NOW, exp=NOW + 10, jti=None)
    globex = pyjwt.encode(claims, rsa_key(), algorithm="RS256")
    jwt.verify(directory(), f"Bearer {globex}")
    for i in range(20):
        jwt.verify(directory(), f"Bearer {ams_jwt(iat=NOW, exp=NOW + 60, jti=f'flood-{i}')}")
    assert refusal(globex, jwt) == "replay"
