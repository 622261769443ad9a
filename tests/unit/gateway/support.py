"""Shared by the gateway's unit and integration tests: tenants, tokens, JWTs, examples.

Tokens here are test values; the tenants file only ever holds their sha256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.admission import InProcessAdmission
from gateway.auth import JwtVerifier, VerifiedJwt
from gateway.errors import KafkaUnavailableError, PublishTimeoutError
from gateway.ratelimit import RateLimiter
from gateway.replay import ReplayCache
from schemas.tenants import TenantDirectory, token_sha256
from tests.examples import example_bytes as example_bytes

ACME_UID = "2049025000431439"  # the uId of Apple's examples
ACME_TENANT_ID = "312022"  # the tenantId of the app example
GLOBEX_UID = "9000000000000001"
GLOBEX_TENANT_ID = "777001"
SLOW_UID = "9000000000000002"  # every organization has exactly one tenant

ACME_TOKEN = "acme-token-3f0c5b1e9d7a4c2b8e6f1a0d9c8b7a6e"
ACME_NEXT_TOKEN = "acme-token-next-7d1e2c3b4a5f6e7d8c9b0a1f2e3d4c5b"
GLOBEX_TOKEN = "globex-token-1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"
SLOW_TOKEN = "slow-token-9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c"

AMS_ISS = "ams"
AMS_AUD = "03a22eb2-537b-471c-bf2b-2055e2f71618"
AMS_SECRET = "ams-secret-current-0123456789abcdef0123456789abcdef"
AMS_OLD_SECRET = "ams-secret-previous-fedcba9876543210fedcba98765432"
RSA_ISS = "rsa-app"
EC_ISS = "ec-app"
ASYM_AUD = "globex-provider-key"


@cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def tenants_config(acme_tokens: tuple[str, ...] = (ACME_TOKEN,)) -> dict[str, Any]:
    """acme (the examples' uId and tenantId), globex (other ids), slow (1 request/s)."""
    return {
        "tenants": [
            {
                "id": "acme",
                "token_sha256": [token_sha256(t) for t in acme_tokens],
                "uids": [ACME_UID],
                "tenant_ids": [ACME_TENANT_ID],
            },
            {
                "id": "globex",
                "token_sha256": [token_sha256(GLOBEX_TOKEN)],
                "uids": [GLOBEX_UID],
                "tenant_ids": [GLOBEX_TENANT_ID],
            },
            {
                "id": "slow",
                "token_sha256": [token_sha256(SLOW_TOKEN)],
                "uids": [SLOW_UID],
                "rate_limit_per_s": 1,
            },
        ],
        "app_issuers": [
            {
                "iss": AMS_ISS,
                "aud": AMS_AUD,
                "tenant": "acme",
                "algorithms": ["HS256"],
                "secrets": [AMS_SECRET, AMS_OLD_SECRET],
                "max_lifetime_s": 60,
                "tenant_ids": [ACME_TENANT_ID],
            },
            {
                "iss": RSA_ISS,
                "aud": ASYM_AUD,
                "tenant": "globex",
                "algorithms": ["RS256"],
                "public_keys": [public_pem(rsa_key())],
            },
            {
                "iss": EC_ISS,
                "aud": ASYM_AUD,
                "tenant": "globex",
                "algorithms": ["ES256"],
                "public_keys": [public_pem(ec_key())],
            },
        ],
    }


def app_claims(**overrides: Any) -> dict[str, Any]:
    """Claims as the app-notification sender sets them: 60 s lifetime, random jti."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": AMS_ISS,
        "sub": None,
        "aud": AMS_AUD,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return claims


def hs256(claims: dict[str, Any], key: str | bytes, alg: str = "HS256") -> str:
    """Sign by hand, so tests can make tokens PyJWT's encoder would refuse to make."""

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).decode().rstrip("=")

    head = part(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = part(json.dumps(claims).encode())
    secret = key.encode() if isinstance(key, str) else key
    mac = hmac.new(secret, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{part(mac)}"


def ams_jwt(secret: str = AMS_SECRET, drop: tuple[str, ...] = (), **overrides: Any) -> str:
    """An HS256 JWT of the `ams` issuer; `drop` removes claims, overrides may be any JSON."""
    claims = {k: v for k, v in app_claims(**overrides).items() if k not in drop}
    return hs256(claims, secret)


def apple_body(uid: str = ACME_UID, notification_type: str = "ASSET_COUNT", **extra: Any) -> bytes:
    notification = (
        {"adamId": "408709785", "countDelta": -12, "pricingParam": "STDQ"}
        if notification_type == "ASSET_COUNT"
        else {}
    )
    body = {
        "notification": notification,
        "notificationId": str(uuid.uuid4()),
        "notificationType": notification_type,
        "uId": uid,
        **extra,
    }
    return json.dumps(body).encode()


def app_body(tenant_id: str = ACME_TENANT_ID) -> bytes:
    body = json.loads(example_bytes("app_tenant_rest_url_change"))
    body["eventId"] = str(uuid.uuid4())
    body["data"]["notificationData"]["tenantId"] = tenant_id
    return json.dumps(body).encode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@dataclass
class Published:
    topic: str
    key: bytes
    value: bytes
    headers: dict[str, bytes]


@dataclass
class MemoryPublisher:
    """Unit tests only: keeps records in a list; `failure` makes publish raise it."""

    records: list[Published] = field(default_factory=list)
    failure: Exception | None = None
    is_ready: bool = True
    started: bool = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    def ready(self) -> bool:
        return self.is_ready

    def not_ready_reason(self) -> str:
        return "Kafka is unreachable"

    async def publish(self, topic: str, key: bytes, value: bytes, headers: Any) -> None:
        if self.failure is not None:
            raise self.failure
        self.records.append(Published(topic, key, value, dict(headers)))


def unavailable() -> KafkaUnavailableError:
    return KafkaUnavailableError("Kafka is unreachable; nothing was stored", 30)


def timed_out() -> PublishTimeoutError:
    return PublishTimeoutError("Kafka did not acknowledge the notification within 5 s", 30)


async def read_topic(bootstrap: str, topic: str, at_least: int, within_s: float = 30) -> list[Any]:
    """Every record of `topic` (all partitions, from the start) once `at_least` are there.

    Reads on until the end offsets are reached, so a record beyond `at_least` is seen too.
    """
    import asyncio

    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(within_s):
            while True:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
                assignment = consumer.assignment()
                if len(records) < at_least or not assignment:
                    continue
                ends = await consumer.end_offsets(list(assignment))
                positions = {tp: await consumer.position(tp) for tp in ends}
                if all(positions[tp] >= end for tp, end in ends.items()):
                    return records
    finally:
        await consumer.stop()


class VerifyOnce:
    """A JwtVerifier followed by the in-process replay memory, as the gateway runs them."""

    def __init__(self, leeway_s: float, cache: ReplayCache, clock: Callable[[], float]) -> None:
        self.jwt = JwtVerifier(leeway_s, clock)
        self.admission = InProcessAdmission(cache, RateLimiter())

    def verify(self, directory: TenantDirectory, authorization: str) -> VerifiedJwt:
        caller = self.jwt.verify(directory, authorization)
        self.admission.check(caller.tenant.id, None, caller.ticket)
        return caller

    def release(self, caller: VerifiedJwt) -> None:
        self.admission.replays.release(caller.ticket.key)


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, object] = response.json()
    assert problem["status"] == status
    assert problem["detail"]
    assert problem["requestId"] == response.headers["x-request-id"]
    return problem
