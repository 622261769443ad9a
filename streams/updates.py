"""How a first-seen notification changes the tables: pure functions, value in, value out.

Crash safety. Faust commits source offsets at-least-once, so after a crash a worker
processes again the events since the last commit, and some of their updates may already
be in the table (in the changelog, or in the local RocksDB). Every value therefore keeps
the `offset` of the last source event applied to it. All updates of a key come from one
source partition (the key starts with the organization), so offsets of one key only grow;
an event at or below the stored offset is skipped: replaying it is a no-op.

`changes_for` lists (table, key, update); `update(old)` returns the new value, or None
when the event is already applied. An event naming one key twice (a serial number listed
twice) yields one update for that key, so the offset check cannot skip half of it.

Every value is built from a bounded number of bounded fields (schemas bounds every
string it models), never from a collection that grows with the organization: an
ASSET_MANAGEMENT event of 100 serial numbers is 100 small rows, whatever the size of
the organization (streams.tables).

All or nothing. `writes_for` computes every new value of an event before the worker
writes or forwards anything (streams.agents), and refuses the event (CannotApplyError)
when one of them cannot be stored: an asset count beyond signed 64 bits (each countDelta
is bounded, their sum is not), or any value the table encoding (orjson, streams.store)
refuses, or a row over MAX_ROW_BYTES. The event is then dead-lettered instead, and was
never half applied.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from schemas.app import TenantRestUrlChangeNotification
from schemas.apple import (
    AssetCountEnvelope,
    AssetManagementEnvelope,
    ManagedUser,
    TestEnvelope,
    UserAssociatedEnvelope,
    UserManagementEnvelope,
)
from schemas.baseline import AssetBaseline, BaselineAsset
from schemas.bounds import INT64_MAX, INT64_MIN
from streams.errors import CannotApplyError
from streams.keys import CLIENT_USER, SERIAL, assignment_key, table_key
from streams.records import Notification

Value = dict[str, Any]
Update = Callable[[Value | None], Value | None]
Read = Callable[[str, str], Value | None]  # (table, key) -> the value stored now

ADD, REMOVE = "ASSOCIATE", ("DISASSOCIATE", "REVOKE")
# Far above any row the bounded schemas allow (a few KiB), far below Kafka's 1 MB record
# limit on the changelog: a row past it is a bug upstream, refused before any output.
MAX_ROW_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Change:
    table: str  # a name in streams.tables.TABLES
    key: str
    update: Update


@dataclass(frozen=True, slots=True)
class Write:
    table: str
    key: str
    value: Value
    encoded: bytes  # orjson.dumps(value): checked here, stored as is (streams.store.put)


def applied(old: Value | None, offset: int) -> bool:
    return old is not None and int(old.get("offset", -1)) >= offset


def add_count(
    old: Value | None,
    uid: str,
    adam_id: str,
    pricing: str,
    delta: int,
    offset: int,
    origin: int | None = None,
) -> Value | None:
    """Deltas commute, so a redriven one (`origin`, its original offset) is added whatever
    came after it, except when a baseline taken after it is in the row: the snapshot
    already counts it."""
    if applied(old, offset):
        return None
    held = old.get("baseline") if old else None
    if origin is not None and held is not None and origin < int(held.get("offset", -1)):
        return None
    count = (int(old["count"]) if old else 0) + delta
    if not INT64_MIN <= count <= INT64_MAX:
        raise CannotApplyError(f"the asset count would be {count}, beyond signed 64 bits")
    new: Value = {
        "uId": uid,
        "adamId": adam_id,
        "pricingParam": pricing,
        "count": count,
        "offset": offset,
    }
    if old and "baseline" in old:  # the count is the baseline's plus the deltas after it
        new["baseline"] = old["baseline"]
    return new


def set_baseline(
    old: Value | None, uid: str, asset: BaselineAsset, b: AssetBaseline, offset: int, at_ms: int
) -> Value | None:
    """The asset's count starts again from the baseline's totalCount: every delta before
    it in the partition is in the snapshot (if Apple had applied it when the MDM fetched
    the snapshot: see the README on the race), every one after it adds to it. A snapshot
    no newer than the row's own (an old file posted again) changes nothing."""
    if applied(old, offset):
        return None
    held = old.get("baseline") if old else None
    if held is not None and int(held["takenAt"]) >= b.takenAt:
        return None
    return {
        "uId": uid,
        "adamId": asset.adamId,
        "pricingParam": asset.pricingParam,
        "count": asset.totalCount,
        "offset": offset,
        "baseline": {
            "offset": offset,  # its position: a redriven delta from before it is counted in it
            "baselineId": b.baselineId,
            "takenAt": b.takenAt,
            "receivedAt": at_ms,
            "totalCount": asset.totalCount,
            "assignedCount": asset.assignedCount,
            "availableCount": asset.availableCount,
        },
    }


def set_assigned(old: Value | None, assigned: bool, offset: int, at_ms: int) -> Value | None:
    """One assignment row: held or not (a row is kept when removed, so that its offset
    still guards it against an older event), and when that last changed."""
    if applied(old, offset):
        return None
    return {"assigned": assigned, "at": at_ms, "offset": offset}


def set_last_error(
    old: Value | None, env: AssetManagementEnvelope, offset: int, at_ms: int
) -> Value | None:
    if applied(old, offset):
        return None
    n = env.notification
    error = n.error
    return {
        "notificationId": env.notificationId,
        "eventId": n.eventId,
        "type": n.type,
        "result": n.result,
        "errorMessage": error.errorMessage if error else None,
        "errorNumber": error.errorNumber if error else None,
        "at": at_ms,
        "offset": offset,
    }


def apply_user(
    old: Value | None,
    uid: str,
    user: ManagedUser,
    default_status: str | None,
    offset: int,
    at_ms: int,
) -> Value | None:
    """Fields the notification leaves out keep their previous value."""
    if applied(old, offset):
        return None
    new: Value = dict(old) if old else {"uId": uid, "clientUserId": user.clientUserId}
    for field in ("email", "inviteCode", "idHash"):
        value = getattr(user, field)
        new[field] = value if value is not None else new.get(field)
    new["status"] = user.status or default_status or new.get("status")
    new.update(updatedAt=at_ms, offset=offset)
    return new


def replace(value: Value, offset: int) -> Update:
    """An update that sets `value` (with its offset) unless the event is already applied."""
    return lambda old: None if applied(old, offset) else {**value, "offset": offset}


def writes_for(
    n: Notification, offset: int, at_ms: int, read: Read, origin: int | None = None
) -> list[Write]:
    """The new values `n` gives the tables, the ones already applied left out; all of
    them computed from `read` before any is written. CannotApplyError if one cannot be
    stored (see the module docstring). `origin`: see changes_for."""
    writes = []
    for change in changes_for(n, offset, at_ms, origin):
        new = change.update(read(change.table, change.key))
        if new is None:
            continue
        try:
            encoded = orjson.dumps(new)  # the bytes streams.store.put stores, after the forward
        except orjson.JSONEncodeError as exc:
            raise CannotApplyError(f"{change.table} {change.key}: {exc}") from None
        if len(encoded) + len(change.key) > MAX_ROW_BYTES:
            raise CannotApplyError(
                f"{change.table}: a row of {len(encoded) + len(change.key)} bytes "
                f"(at most {MAX_ROW_BYTES})"
            )
        writes.append(Write(change.table, change.key, new, encoded))
    return writes


def changes_for(
    n: Notification, offset: int, at_ms: int, origin: int | None = None
) -> list[Change]:
    """`origin` is the original offset of a redriven dead letter (streams.redrive): it
    orders every row but the asset counts, whose deltas commute and keep `offset`."""
    body = n.body
    order = offset if origin is None else origin
    if isinstance(body, AssetCountEnvelope):
        c = body.notification
        key = table_key(body.uId, c.adamId, c.pricingParam)
        return [
            Change(
                "asset_counts",
                key,
                lambda old: add_count(
                    old, body.uId, c.adamId, c.pricingParam, c.countDelta, offset, origin
                ),
            )
        ]
    if isinstance(body, AssetManagementEnvelope):
        return _assignment_changes(body, order, at_ms)
    if isinstance(body, AssetBaseline):
        return [
            Change(
                "asset_counts",
                table_key(body.uId, a.adamId, a.pricingParam),
                partial(set_baseline, uid=body.uId, asset=a, b=body, offset=order, at_ms=at_ms),
            )
            for a in body.assets  # each (adamId, pricingParam) once: schemas.baseline
        ]
    if isinstance(body, UserManagementEnvelope | UserAssociatedEnvelope):
        return _user_changes(body, order, at_ms)
    if isinstance(body, TestEnvelope):
        value = {"uId": body.uId, "notificationId": body.notificationId, "receivedAt": at_ms}
        return [Change("last_tests", table_key(body.uId), replace(value, order))]
    if isinstance(body, TenantRestUrlChangeNotification):
        data = body.data.notificationData
        value = {
            "tenantId": data.tenantId,
            "tenantRestUrl": data.tenantRestUrl,
            "productUuid": data.productUuid,
            "eventId": body.eventId,
            "updatedAt": at_ms,
        }
        return [Change("tenant_urls", table_key(data.tenantId), replace(value, order))]
    return []  # a type we do not model yet: routed to notifications.other only


def _assignment_changes(env: AssetManagementEnvelope, offset: int, at_ms: int) -> list[Change]:
    """A FAILURE is one row per asset (its last error); a SUCCESS of ASSOCIATE,
    DISASSOCIATE or REVOKE one row per serial number or clientUserId it names, whatever
    the size of the organization. Other types (none documented) change nothing."""
    n = env.notification
    if not n.succeeded:
        assets = {(a.adamId, a.pricingParam) for a in n.assignments}
        return [
            Change(
                "assignment_errors",
                table_key(env.uId, adam_id, pricing),
                partial(set_last_error, env=env, offset=offset, at_ms=at_ms),
            )
            for adam_id, pricing in sorted(assets)
        ]
    if n.type != ADD and n.type not in REMOVE:
        return []
    update = partial(set_assigned, assigned=n.type == ADD, offset=offset, at_ms=at_ms)
    keys: dict[str, None] = {}  # one update per row: the offset check must not skip half
    for a in n.assignments:
        for kind, holder in ((SERIAL, a.serialNumber), (CLIENT_USER, a.clientUserId)):
            if holder is not None:
                keys[assignment_key(env.uId, a.adamId, a.pricingParam, kind, holder)] = None
    return [Change("assignment_rows", key, update) for key in keys]


def _user_changes(
    env: UserManagementEnvelope | UserAssociatedEnvelope, offset: int, at_ms: int
) -> list[Change]:
    if isinstance(env, UserManagementEnvelope):
        if not env.notification.succeeded:
            return []
        users, default = (
            env.notification.users,
            "Retired" if env.notification.type == "RETIRE" else None,
        )
    else:
        users, default = env.notification.associatedUsers, "Associated"
    last = {u.clientUserId: u for u in users}  # one update per user: the last entry wins
    return [
        Change(
            "user_status",
            table_key(env.uId, cid),
            partial(
                apply_user, uid=env.uId, user=u, default_status=default, offset=offset, at_ms=at_ms
            ),
        )
        for cid, u in last.items()
    ]
