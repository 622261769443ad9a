"""Who is calling: a tenant's bearer token, or an app issuer's JWT.

Bearer tokens are looked up through schemas.tenants (sha256, constant-time compare).

JWTs: the issuer named by the unverified `iss` picks the keyring and the algorithms, both
from the tenants file, never from the token (so alg=none and HS256-signed-with-the-RSA-
public-key are refused: HMAC algorithms only ever get the issuer's secrets, asymmetric
ones its public keys). PyJWT (its JWS layer) checks the header and the signature against
each key of the ring (current and previous secrets during a rotation); the claims are
then checked here, after normalising millisecond timestamps (the sender's documented
sample uses them). exp and iat are required. Every token is single-use: its jti, or for a
token without one (the sender's sample has `jti: null`) a digest of its signed part, is
remembered per issuer until the token expires: verify() returns it as a ReplayTicket,
which gateway.admission marks used (in this process or in the shared store).

Until the signature is verified every failure gets the same detail, so the answer does
not tell an unknown issuer from a wrong secret; after it, the detail names the claim.
Tokens and JWTs are never logged.
"""

import base64
import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm

from gateway.admission import ReplayTicket
from gateway.errors import AuthenticationError
from schemas.tenants import AppIssuer, Tenant, TenantDirectory, bearer_token

log = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 8192
MS_THRESHOLD = 10**11  # a NumericDate above this is in milliseconds (1e11 s is year 5138)
MAX_NUMERIC_DATE = 10**14  # the same instant in milliseconds: beyond it, not a date
INVALID_TOKEN = "the bearer token is not valid for this endpoint"  # noqa: S105
_MALFORMED = (jwt.PyJWTError, ValueError, TypeError, RecursionError)


def required_bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header, or 401 saying what is wrong
    (schemas.tenants.bearer_token parses the header)."""
    if not authorization:
        raise AuthenticationError(
            "missing Authorization header: send 'Authorization: Bearer <token>'",
            "missing",
            error=None,
        )
    token = bearer_token(authorization)
    if token is None:
        raise AuthenticationError(
            "the Authorization header must be 'Bearer <token>'",
            "malformed",
            error="invalid_request",
        )
    if len(token) > MAX_TOKEN_CHARS:
        raise AuthenticationError(INVALID_TOKEN, "too_long")
    return token


def authenticate_bearer(directory: TenantDirectory, authorization: str | None) -> Tenant:
    tenant = directory.tenant_for_token(required_bearer_token(authorization))
    if tenant is None:
        raise AuthenticationError(INVALID_TOKEN, "unknown_token")
    return tenant


@dataclass
class VerifiedJwt:
    """An app JWT whose signature and claims passed: its issuer and the issuer's tenant;
    `ticket` is what makes the token single-use (not marked used yet: gateway.admission
    does that, and gateway.deps.jwt_caller makes the admitted Caller)."""

    tenant: Tenant
    issuer: AppIssuer
    ticket: ReplayTicket


class JwtVerifier:
    def __init__(self, leeway_s: float, clock: Callable[[], float] = time.time) -> None:
        self._leeway = leeway_s
        self._clock = clock

    def verify(self, directory: TenantDirectory, authorization: str | None) -> VerifiedJwt:
        token = required_bearer_token(authorization)
        issuer = _issuer_of(directory, token)
        claims = _verified_claims(issuer, token)
        until = self._check_times(issuer, claims)
        _check_audience(issuer, claims)
        tenant = directory.tenant(issuer.tenant)
        if tenant is None:  # the tenants file refuses this; kept for safety
            raise AuthenticationError(INVALID_TOKEN, "unknown_tenant")
        return VerifiedJwt(
            tenant, issuer, ReplayTicket((issuer.iss, _replay_id(claims, token)), until)
        )

    def _check_times(self, issuer: AppIssuer, claims: dict[str, Any]) -> float:
        """Check exp/iat/nbf; return when the token stops being acceptable (epoch s).

        The leeway absorbs clock skew between the sender and us, on exp, iat and nbf
        only: the lifetime (exp - iat) is the sender's own arithmetic, so it gets none.
        """
        now, leeway = self._clock(), self._leeway
        exp = _numeric_date(claims, "exp")
        if exp is None:
            raise AuthenticationError("the token has no exp claim; it is required", "missing_exp")
        iat = _numeric_date(claims, "iat")
        if iat is None:
            raise AuthenticationError("the token has no iat claim; it is required", "missing_iat")
        if now > exp + leeway:
            raise AuthenticationError("the token has expired (exp)", "expired")
        if iat > now + leeway:
            raise AuthenticationError(
                "the token is issued in the future (iat): check the sender's clock",
                "issued_in_future",
            )
        nbf = _numeric_date(claims, "nbf")
        if nbf is not None and nbf > now + leeway:
            raise AuthenticationError("the token is not valid yet (nbf)", "not_yet_valid")
        if exp < iat:
            raise AuthenticationError("the token expires before it is issued", "bad_claim")
        if exp - iat > issuer.max_lifetime_s:
            raise AuthenticationError(
                f"the token lives {exp - iat:.0f} s (exp - iat); at most "
                f"{issuer.max_lifetime_s:.0f} s is accepted",
                "lifetime",
            )
        return exp + leeway


def _replay_id(claims: dict[str, Any], token: str) -> str:
    """What makes this token single-use: its jti, or else what its signature covers.

    Not the signature itself: an ECDSA signature (r, s) has a twin (r, n - s) that
    verifies as well, so a captured ES256 token could be replayed once more under a new
    signature. The signed header and payload cannot change without breaking it.
    """
    jti = claims.get("jti")
    if jti is not None and not isinstance(jti, str):
        raise AuthenticationError("the jti claim must be a string", "bad_claim")
    if jti:
        return "jti:" + jti
    signed = token.rpartition(".")[0]
    return "sha256:" + hashlib.sha256(signed.encode()).hexdigest()


def _issuer_of(directory: TenantDirectory, token: str) -> AppIssuer:
    """The configured issuer the token claims to come from (signature not checked yet).

    A peek at the payload only, done here because a full PyJWT decode would be spent on
    tokens of unknown issuers, and the signature check decodes the token again anyway
    (strictly, with PyJWT).
    """
    segments = token.split(".")
    try:
        if len(segments) != 3:
            raise ValueError("not three segments")
        payload = segments[1]
        unverified = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except _MALFORMED:
        raise AuthenticationError(INVALID_TOKEN, "malformed") from None
    iss = unverified.get("iss") if isinstance(unverified, dict) else None
    issuer = directory.issuer(iss) if isinstance(iss, str) else None
    if issuer is None:
        raise AuthenticationError(INVALID_TOKEN, "unknown_issuer")
    return issuer


class _CheckedOnceHMAC(HMACAlgorithm):
    """PyJWT's HMAC, with its check that a secret is not a public key (PEM, SSH, DER or
    JWK: it tries to parse each, a large part of a verification) run once per secret
    instead of on every token. HMAC algorithms only ever get an issuer's `secrets` (see _keyring),
    which come from the tenants file; a secret refused once is refused every time."""

    def __init__(self, hash_alg: Any) -> None:
        super().__init__(hash_alg)
        self._prepare_once = functools.lru_cache(maxsize=4096)(super().prepare_key)

    def prepare_key(self, key: str | bytes) -> bytes:
        prepared: bytes = self._prepare_once(key)
        return prepared


def _signature_checker() -> jwt.PyJWS:
    jws = jwt.PyJWS()
    for name, digest in (
        ("HS256", HMACAlgorithm.SHA256),
        ("HS384", HMACAlgorithm.SHA384),
        ("HS512", HMACAlgorithm.SHA512),
    ):
        jws.unregister_algorithm(name)
        jws.register_algorithm(name, _CheckedOnceHMAC(digest))
    return jws


_JWS = _signature_checker()


def _keyring(issuer: AppIssuer) -> list[tuple[str, list[str]]]:
    """(key, algorithms) pairs: HMAC algorithms with secrets, the others with public keys."""
    hmac = [a for a in issuer.algorithms if a.upper().startswith("HS")]
    other = [a for a in issuer.algorithms if not a.upper().startswith("HS")]
    ring = [(secret, hmac) for secret in issuer.secrets] if hmac else []
    return ring + ([(key, other) for key in issuer.public_keys] if other else [])


def _verified_claims(issuer: AppIssuer, token: str) -> dict[str, Any]:
    failures: set[str] = set()
    for key, algorithms in _keyring(issuer):
        try:
            # Signature and header only: the claims are checked here, after it.
            payload = _JWS.decode_complete(token, key, algorithms=algorithms)["payload"]
            claims = json.loads(payload)
            if not isinstance(claims, dict):
                raise jwt.DecodeError("the payload is not a JSON object")
            return claims
        except jwt.InvalidAlgorithmError:
            failures.add("algorithm")
        except jwt.InvalidKeyError:
            log.warning(
                "app issuer %r has a key PyJWT cannot use: check the tenants file", issuer.iss
            )
            failures.add("bad_key")
        except _MALFORMED:
            failures.add("bad_signature")
    reason = "bad_signature" if "bad_signature" in failures else min(failures, default="no_key")
    raise AuthenticationError(INVALID_TOKEN, reason)


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """The claim in epoch seconds, None if absent; milliseconds are normalised.

    The range is checked on the value as sent, before any float conversion: a JSON
    integer such as 10**400 is a valid Python int that no float can hold.
    """
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthenticationError(f"the {name} claim must be a number of seconds", "bad_claim")
    if not 0 <= value <= MAX_NUMERIC_DATE:  # False for NaN too
        raise AuthenticationError(
            f"the {name} claim is out of range (seconds or milliseconds since 1970)", "bad_claim"
        )
    return value / 1000 if value > MS_THRESHOLD else float(value)


def _check_audience(issuer: AppIssuer, claims: dict[str, Any]) -> None:
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if issuer.aud not in audiences:
        raise AuthenticationError(
            "the token's aud is not the audience configured for its issuer", "audience"
        )
