"""Realistic notification workloads and the oracle of what they must produce.

A `Workload` is a script of notifications per organization, in the order a sender accepts
them, drawn from the types in Apple's and the app sender's documents (plus a type we don't
model, and some FAILURE results). `Oracle` applies accepted notifications with the same
rules the stream workers use, so a checker can compare the query views with what the
accepted notifications imply. Used by the sender simulator, benchmarks and system tests.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

APPLE_PATH = "/v1/notifications"
APP_PATH = "/v1/app-notifications"

# Share of each kind in the mix: counts and assignments dominate real traffic.
MIX = {
    "ASSET_COUNT": 40,
    "ASSET_MANAGEMENT": 25,
    "USER_MANAGEMENT": 12,
    "USER_ASSOCIATED": 8,
    "TEST_NOTIFICATION": 3,
    "SUBSCRIPTION_COUNT": 2,  # a type Apple sends that we don't model: goes to .other
    "TENANT_REST_URL_CHANGE": 10,
}
ADAM_IDS = ["408709785", "329103948", "361309726", "284882215"]
PRICING = ["STDQ", "PLUS"]


@dataclass(frozen=True)
class Notification:
    """One notification as a sender posts it. `key` is the organization (uId or tenantId)."""

    id: str
    type: str
    path: str
    key: str
    body: bytes

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Org:
    key: str
    tenant: str
    app: bool = False
    users: list[str] = field(default_factory=list)
    serials: list[str] = field(default_factory=list)


def new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def apple(
    notification_type: str, uid: str, notification: dict[str, Any], rng: random.Random
) -> Notification:
    nid = new_id(rng)
    body = {
        "notification": notification,
        "notificationId": nid,
        "notificationType": notification_type,
        "uId": uid,
    }
    return Notification(nid, notification_type, APPLE_PATH, uid, json.dumps(body).encode())


def app_event(tenant_id: str, rng: random.Random) -> Notification:
    eid = new_id(rng)
    body = {
        "eventId": eid,
        "eventType": "TENANT_REST_URL_CHANGE",
        "data": {
            "notificationType": "TENANT_REST_URL_CHANGE",
            "notificationData": {
                "tenantId": tenant_id,
                "tenantRestUrl": f"https://t{rng.randrange(10**6)}.example",
                "productUuid": new_id(rng),
            },
        },
    }
    return Notification(
        eid, "TENANT_REST_URL_CHANGE", APP_PATH, tenant_id, json.dumps(body).encode()
    )


def _result(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.05:
        return {
            "result": "FAILURE",
            "error": {"errorMessage": "Asset not available", "errorNumber": 9610},
        }
    return {"result": "SUCCESS"}


def _asset_management(org: Org, rng: random.Random) -> dict[str, Any]:
    adam, pricing = rng.choice(ADAM_IDS), rng.choice(PRICING)
    kind = rng.choice(["ASSOCIATE", "ASSOCIATE", "DISASSOCIATE", "REVOKE"])
    if kind == "ASSOCIATE" or not org.serials:
        kind = "ASSOCIATE"
        serials = [new_id(rng) for _ in range(rng.randint(1, 3))]
        org.serials.extend(serials)
        holders = [{"serialNumber": s} for s in serials]
    else:
        holders = [{"serialNumber": rng.choice(org.serials)}]
    if org.users and rng.random() < 0.3:
        holders.append({"clientUserId": rng.choice(org.users)})
    assignments = [{"adamId": adam, "pricingParam": pricing, **h} for h in holders]
    return {"assignments": assignments, "eventId": new_id(rng), "type": kind, **_result(rng)}


def _user(org: Org, rng: random.Random, status: str, new: bool) -> dict[str, Any]:
    if new or not org.users:
        org.users.append(f"client-{rng.randrange(10**6)}")
        user = org.users[-1]
    else:
        user = rng.choice(org.users)
    record = {
        "clientUserId": user,
        "email": f"{user}@example.com",
        "inviteCode": uuid.UUID(int=rng.getrandbits(128)).hex,
        "status": status,
    }
    if status == "Associated":
        record["idHash"] = f"{rng.getrandbits(64):x}="
    return record


def _next(org: Org, rng: random.Random) -> Notification:
    if org.app:
        return app_event(org.key, rng)
    kinds = [k for k in MIX if k != "TENANT_REST_URL_CHANGE"]
    kind = rng.choices(kinds, weights=[MIX[k] for k in kinds])[0]
    if kind == "ASSET_COUNT":
        return apple(
            kind,
            org.key,
            {
                "adamId": rng.choice(ADAM_IDS),
                "pricingParam": rng.choice(PRICING),
                "countDelta": rng.randint(-5, 20),
            },
            rng,
        )
    if kind == "ASSET_MANAGEMENT":
        return apple(kind, org.key, _asset_management(org, rng), rng)
    if kind == "USER_MANAGEMENT":
        action = rng.choice(["CREATE", "CREATE", "UPDATE", "RETIRE"])
        status = {"CREATE": "Registered", "UPDATE": "Registered", "RETIRE": "Retired"}[action]
        users = [_user(org, rng, status, new=action == "CREATE")]
        return apple(
            kind,
            org.key,
            {"eventId": new_id(rng), "type": action, "users": users, **_result(rng)},
            rng,
        )
    if kind == "USER_ASSOCIATED":
        return apple(
            kind, org.key, {"associatedUsers": [_user(org, rng, "Associated", False)]}, rng
        )
    if kind == "TEST_NOTIFICATION":
        return apple(kind, org.key, {}, rng)
    return apple(kind, org.key, {"adamId": rng.choice(ADAM_IDS), "count": rng.randint(0, 99)}, rng)


@dataclass
class Workload:
    """Per-organization scripts; within one org, notifications must be accepted in order."""

    orgs: list[Org]
    scripts: dict[str, list[Notification]]

    @classmethod
    def generate(
        cls, tenants: int, orgs_per_tenant: int, notifications: int, seed: int = 7
    ) -> Workload:
        rng = random.Random(seed)
        orgs: list[Org] = []
        for t in range(tenants):
            for o in range(orgs_per_tenant):
                app = rng.randrange(100) < MIX["TENANT_REST_URL_CHANGE"]
                key = f"{31000 + t * 1000 + o}" if app else f"{2049025000000000 + t * 10000 + o}"
                orgs.append(Org(key, f"tenant-{t}", app=app))
        scripts: dict[str, list[Notification]] = defaultdict(list)
        for _ in range(notifications):
            org = rng.choice(orgs)
            scripts[org.key].append(_next(org, rng))
        return cls(orgs, dict(scripts))

    def uids(self, tenant: str) -> list[str]:
        return [o.key for o in self.orgs if o.tenant == tenant and not o.app]

    def tenant_ids(self, tenant: str) -> list[str]:
        return [o.key for o in self.orgs if o.tenant == tenant and o.app]

    @property
    def tenants(self) -> list[str]:
        return sorted({o.tenant for o in self.orgs})

    def __len__(self) -> int:
        return sum(len(s) for s in self.scripts.values())


AssetKey = tuple[str, str, str]


@dataclass
class Oracle:
    """The table state that the accepted notifications imply, by the stream workers' rules:
    counts add up; assignments change only on SUCCESS (a FAILURE is kept as the last error);
    user fields a notification leaves out keep their value; the last test and the tenant
    URL are replaced. Notifications must be applied in the order they were accepted per org.
    """

    asset_counts: dict[AssetKey, int] = field(default_factory=lambda: defaultdict(int))
    assignments: dict[AssetKey, dict[str, Any]] = field(default_factory=dict)
    users: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    last_tests: dict[str, str] = field(default_factory=dict)
    tenant_urls: dict[str, dict[str, str]] = field(default_factory=dict)
    ids_by_type: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def apply(self, n: Notification) -> None:
        self.ids_by_type[n.type].add(n.id)
        doc = n.document
        if n.type == "TENANT_REST_URL_CHANGE":
            data = doc["data"]["notificationData"]
            self.tenant_urls[n.key] = {
                "tenantRestUrl": data["tenantRestUrl"],
                "productUuid": data["productUuid"],
                "eventId": n.id,
            }
            return
        body = doc["notification"]
        if n.type == "ASSET_COUNT":
            self.asset_counts[(n.key, body["adamId"], body["pricingParam"])] += body["countDelta"]
        elif n.type == "ASSET_MANAGEMENT":
            self._assignments(n, body)
        elif n.type == "USER_MANAGEMENT" and body["result"] == "SUCCESS":
            default = "Retired" if body["type"] == "RETIRE" else None
            for user in body["users"]:
                self._user(n.key, user, default)
        elif n.type == "USER_ASSOCIATED":
            for user in body["associatedUsers"]:
                self._user(n.key, user, "Associated")
        elif n.type == "TEST_NOTIFICATION":
            self.last_tests[n.key] = n.id

    def _assignments(self, n: Notification, body: dict[str, Any]) -> None:
        for a in body["assignments"]:
            state = self.assignments.setdefault(
                (n.key, a["adamId"], a["pricingParam"]),
                {"serialNumbers": set(), "clientUserIds": set(), "lastError": None},
            )
            if body["result"] != "SUCCESS":
                state["lastError"] = n.id
                continue
            for holder, kind in (
                ("serialNumber", "serialNumbers"),
                ("clientUserId", "clientUserIds"),
            ):
                if a.get(holder) is None:
                    continue
                if body["type"] == "ASSOCIATE":
                    state[kind].add(a[holder])
                elif body["type"] in ("DISASSOCIATE", "REVOKE"):
                    state[kind].discard(a[holder])

    def _user(self, uid: str, user: dict[str, Any], default_status: str | None) -> None:
        state = self.users.setdefault((uid, user["clientUserId"]), {})
        for name in ("email", "inviteCode", "idHash"):
            if user.get(name) is not None:
                state[name] = user[name]
        state["status"] = user.get("status") or default_status or state.get("status")
