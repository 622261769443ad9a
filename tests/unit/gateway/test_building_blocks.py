"""The pure parts: bearer parsing, JWT time rules, replay memory, token buckets, intake."""

from typing import Any

import pytest

from gateway.auth import required_bearer_token
from gateway.errors import AuthenticationError, UnsupportedMediaTypeError
from gateway.intake import check_content_type, field_path
from gateway.ratelimit import RateLimiter
from gateway.replay import ReplayCache
from schemas.tenants import TenantDirectory
from tests.unit.gateway.support import (
    ACME_TENANT_ID,
    AMS_ISS,
    VerifyOnce,
    ams_jwt,
    app_claims,
    hs256,
    public_pem,
    rsa_key,
    tenants_config,
)

NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def verify(token: str, clock: Clock | None = None, leeway: float = 30) -> Any:
    directory = TenantDirectory.from_mapping(tenants_config())
    verifier = VerifyOnce(leeway, ReplayCache(100, clock or Clock()), clock or Clock())
    return verifier.verify(directory, f"Bearer {token}")


def reason_of(token: str, clock: Clock | None = None) -> str:
    with pytest.raises(AuthenticationError) as caught:
        verify(token, clock)
    return caught.value.reason


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer abc", "abc"), ("BEARER  abc ", "abc"), ("Bearer a b", "a b")],
)
def test_required_bearer_token_parsing(header: str, token: str) -> None:
    assert required_bearer_token(header) == token


def test_missing_header_has_no_error_code_in_the_challenge() -> None:
    with pytest.raises(AuthenticationError) as caught:
        required_bearer_token(None)
    assert caught.value.headers["WWW-Authenticate"] == 'Bearer realm="switchboard"'


@pytest.mark.parametrize(
    ("iat", "exp", "ok"),
    [
        (NOW, NOW + 60, True),
        (NOW, NOW + 61, False),  # max lifetime 60 s: the leeway does not extend it
        (NOW, NOW + 90, False),
        (NOW + 30, NOW + 90, True),  # a sender clock 30 s ahead: within leeway
        (NOW + 31, NOW + 91, False),
        (NOW - 90, NOW - 30, True),  # expired 30 s ago: within leeway
        (NOW - 91, NOW - 31, False),
        (NOW * 1000, NOW * 1000 + 60_000, True),  # milliseconds
        (NOW * 1000, NOW * 1000 + 120_000, False),
        (NOW, NOW * 1000 + 60_000, True),  # mixed units, each normalised
        (NOW + 10, NOW + 5, False),  # exp before iat
    ],
)
def test_time_rules(iat: float, exp: float, ok: bool) -> None:
    token = ams_jwt(iat=iat, exp=exp)
    if ok:
        assert verify(token).tenant.id == "acme"
    else:
        assert reason_of(token) in {"expired", "issued_in_future", "lifetime", "bad_claim"}


def test_iat_is_required() -> None:
    for token in (ams_jwt(drop=("iat",), exp=NOW + 60), ams_jwt(iat=None, exp=NOW + 60)):
        with pytest.raises(AuthenticationError, match="no iat claim") as caught:
            verify(token)
        assert caught.value.reason == "missing_iat"


def test_the_leeway_is_for_clock_skew_not_for_the_lifetime() -> None:
    """A 90 s token fails a 60 s cap with 30 s leeway, whatever the clocks say."""
    for now in (NOW, NOW + 45, NOW + 100):  # sender on time, we 45 s or 100 s later
        with pytest.raises(AuthenticationError, match="lives 90 s") as caught:
            verify(ams_jwt(iat=NOW, exp=NOW + 90), Clock(now))
        assert caught.value.reason == "lifetime"


def test_nbf_in_the_future_is_refused() -> None:
    assert reason_of(ams_jwt(iat=NOW, exp=NOW + 60, nbf=NOW + 45)) == "not_yet_valid"


def test_audience_may_be_a_list() -> None:
    token = ams_jwt(iat=NOW, exp=NOW + 60, aud=["other", "03a22eb2-537b-471c-bf2b-2055e2f71618"])
    assert verify(token).tenant.id == "acme"


def test_replay_is_refused_until_the_token_could_no_longer_be_valid() -> None:
    clock = Clock()
    directory = TenantDirectory.from_mapping(tenants_config())
    verifier = VerifyOnce(30, ReplayCache(100, clock), clock)
    token = ams_jwt(iat=NOW, exp=NOW + 60, jti="one")
    verifier.verify(directory, f"Bearer {token}")
    with pytest.raises(AuthenticationError, match="already used"):
        verifier.verify(directory, f"Bearer {token}")
    clock.now = NOW + 91
    with pytest.raises(AuthenticationError, match="expired"):
        verifier.verify(directory, f"Bearer {token}")


def test_replay_cache_is_bounded_and_forgets_the_soonest_to_expire_first() -> None:
    clock = Clock()
    cache = ReplayCache(3, clock)
    for i, until in enumerate((NOW + 50, NOW + 10, NOW + 30)):
        assert cache.reserve((AMS_ISS, str(i)), until)
    assert cache.reserve((AMS_ISS, "3"), NOW + 40)
    assert len(cache) == 3
    assert cache.reserve((AMS_ISS, "1"), NOW + 10)  # the one expiring first was dropped
    assert not cache.reserve((AMS_ISS, "0"), NOW + 50)


def test_replay_cache_forgets_expired_and_released_ids() -> None:
    clock = Clock()
    cache = ReplayCache(10, clock)
    assert cache.reserve(("a", "1"), NOW + 5)
    cache.release(("a", "1"))
    assert cache.reserve(("a", "1"), NOW + 5)
    clock.now = NOW + 6
    assert cache.reserve(("a", "1"), NOW + 20)
    assert len(cache) == 1


def test_token_bucket_allows_bursts_then_the_rate() -> None:
    clock = Clock(0.0)
    limiter = RateLimiter(burst_s=2.0, clock=clock)
    assert [limiter.acquire("t", 5.0) for _ in range(10)] == [None] * 10
    assert limiter.acquire("t", 5.0) == 1
    clock.now = 0.2  # one token back
    assert limiter.acquire("t", 5.0) is None
    assert limiter.acquire("t", 5.0) == 1
    assert limiter.acquire("other", 5.0) is None
    assert limiter.acquire("t", None) is None


def test_slow_rate_retry_after_is_rounded_up() -> None:
    limiter = RateLimiter(clock=Clock(0.0))
    assert limiter.acquire("t", 0.1) is None
    assert limiter.acquire("t", 0.1) == 10


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), "(body)"),
        (("uId",), "uId"),
        (("notification", "countDelta"), "notification.countDelta"),
        (("notification", "assignments", 0, "adamId"), "notification.assignments[0].adamId"),
    ],
)
def test_field_path(loc: tuple[int | str, ...], path: str) -> None:
    assert field_path(loc) == path


@pytest.mark.parametrize("value", ["application/problem+json", "application/json;charset=utf8"])
def test_json_content_types(value: str) -> None:
    check_content_type(value)


@pytest.mark.parametrize(
    "value", [None, "", "json", "text/json", "application/json; charset=utf-16"]
)
def test_non_json_content_types(value: str | None) -> None:
    with pytest.raises(UnsupportedMediaTypeError):
        check_content_type(value)


def test_owned_tenant_ids_come_from_the_issuer_too() -> None:
    directory = TenantDirectory.from_mapping(tenants_config())
    acme = directory.tenant("acme")
    assert acme is not None and directory.owns_tenant_id(acme, ACME_TENANT_ID)


def test_a_public_key_listed_as_an_hmac_secret_never_verifies_a_token() -> None:
    """Algorithm confusion through the tenants file: PyJWT refuses a PEM as an HMAC key.
    Its check runs once per secret (cached); a refusal must hold on every token."""
    config = tenants_config()
    pem = public_pem(rsa_key())
    config["app_issuers"][0]["secrets"] = [pem]
    directory = TenantDirectory.from_mapping(config)
    verifier = VerifyOnce(30, ReplayCache(100, Clock()), Clock())
    for _ in range(2):
        token = hs256(app_claims(iat=NOW, exp=NOW + 60), pem)
        with pytest.raises(AuthenticationError) as caught:
            verifier.verify(directory, f"Bearer {token}")
        assert caught.value.reason == "bad_key"
