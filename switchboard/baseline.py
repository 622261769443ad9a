"""`switchboard baseline import`: post an organization's Get Assets answer as its baseline.

It goes to the gateway's POST /v1/asset-baselines with the tenant's bearer token, not
straight to Kafka: the gateway is the one place that checks the uId is the tenant's and
stamps the record (tenant, receive time, sha256, request id) as the worker expects, and
the operator needs a token rather than Kafka credentials. 202 means the baseline is on
raw-notifications behind every delta the gateway accepted before it.

The body is the file as the MDM fetched it, with `uId` (checked against --uid when the
file names one), `takenAt` and `baselineId` added. The id is derived from the uId, the
time and the file's bytes, so posting the same file again (a retry after a timeout) is a
duplicate the worker drops, never a second reset of the counts.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schemas.baseline import parse_baseline
from switchboard.gatewayclient import GatewayUnreachableError, post_json

PATH = "/v1/asset-baselines"


class BaselineImportError(Exception):
    """An expected failure: the file, the time, the gateway's answer or no connection."""


@dataclass(frozen=True)
class Imported:
    baseline_id: str
    assets: int
    taken_at_ms: int


def taken_at_ms(value: str) -> int:
    """--taken-at (ISO 8601 with a zone) in ms since the epoch."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise BaselineImportError(f"--taken-at {value!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise BaselineImportError(f"--taken-at {value!r} needs a zone, e.g. 2026-12-01T11:00Z")
    return int(when.timestamp() * 1000)


def baseline_body(raw: bytes, uid: str, taken_at: int | None, fallback_ms: int) -> bytes:
    """The Get Assets answer `raw` as a baseline of `uid`, checked as the gateway will.
    `takenAt`: `taken_at` if given, else the file's own, else `fallback_ms`."""
    try:
        document: Any = json.loads(raw)
    except ValueError as exc:
        raise BaselineImportError(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("assets"), list):
        raise BaselineImportError("not a Get Assets answer: no `assets` list")
    named = document.get("uId")
    if named is not None and named != uid:
        raise BaselineImportError(f"the file is the answer for uId {named!r}, not {uid!r}")
    document["uId"] = uid
    document["takenAt"] = taken_at if taken_at is not None else document.get("takenAt", fallback_ms)
    if "baselineId" not in document:
        digest = hashlib.sha256(f"{uid}\n{document['takenAt']}\n".encode() + raw)
        document["baselineId"] = digest.hexdigest()[:32]
    body = json.dumps(document).encode()
    try:
        parse_baseline(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "(body)"
        raise BaselineImportError(f"{where}: {first['msg']}") from None
    return body


def import_file(
    file: Path, uid: str, token: str, gateway_url: str, taken_at: str | None = None
) -> Imported:
    """Post `file` as the baseline of `uid`; what the gateway accepted, or BaselineImportError."""
    explicit = taken_at_ms(taken_at) if taken_at is not None else None
    try:
        raw, modified_ms = file.read_bytes(), int(file.stat().st_mtime * 1000)
    except OSError as exc:
        raise BaselineImportError(f"{file}: {exc.strerror}") from None
    try:
        body = baseline_body(raw, uid, explicit, modified_ms)
    except BaselineImportError as exc:
        raise BaselineImportError(f"{file}: {exc}") from None
    target = f"{gateway_url.rstrip('/')}{PATH}"
    try:
        response = post_json(target, body, token)
    except GatewayUnreachableError as exc:
        raise BaselineImportError(str(exc)) from None
    if response.status_code != 202:
        raise BaselineImportError(f"{target}: {response.status_code} {response.text}")
    sent = json.loads(body)
    return Imported(sent["baselineId"], len(sent["assets"]), sent["takenAt"])
