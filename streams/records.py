"""A raw-notifications record as the worker sees it, and its decoding into a Notification.

The gateway's contract: value = the exact body the sender posted, key = the organization
(uId, or tenantId for app notifications; the uId of an asset-count baseline), headers from
schemas.headers. The `source` header picks the parser; the key must be the organization
the body names, otherwise the organization's updates would land in another
organization's partition.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas import headers as h
from schemas.app import AppNotification, parse_app
from schemas.apple import AppleNotification, NotificationEnvelope, parse_apple
from schemas.baseline import BASELINE_TYPE, AssetBaseline, parse_baseline
from schemas.strictjson import load_json
from streams.errors import InvalidBodyError, KeyMismatchError, UnknownSourceError

MAX_TIME_MS = 10**13  # year 2286: keeps time buckets to a fixed width (streams.dedupe)


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One consumed record: bytes as read, its position, and what we derive from both."""

    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    topic: str
    partition: int
    offset: int
    received_at_ms: int
    sha256: str

    @property
    def position(self) -> str:
        return h.position(self.topic, self.partition, self.offset)

    def header(self, name: str) -> bytes | None:
        return _header(self.headers, name)


@dataclass(frozen=True, slots=True)
class Notification:
    source: str  # schemas.headers.SOURCE_APPLE or SOURCE_APP
    org: str  # uId, or tenantId for app notifications
    id: str  # notificationId, eventId, or baselineId
    type: str  # notificationType, eventType, or BASELINE_TYPE
    body: AppleNotification | AppNotification | AssetBaseline


def source_record(message: Any) -> SourceRecord:
    """A SourceRecord from a Faust/aiokafka message (key, value, headers, tp, offset, ...)."""
    value = message.value if message.value is not None else b""
    record_headers = _headers(message.headers or ())
    received = _header(record_headers, h.RECEIVED_AT)
    try:
        received_at_ms = int(received) if received is not None else 0
    except ValueError:
        received_at_ms = 0
    if not 0 < received_at_ms < MAX_TIME_MS:  # no usable gateway time: the record's time
        received_at_ms = int((message.timestamp or 0) * 1000)
    return SourceRecord(
        key=message.key,
        value=value,
        headers=record_headers,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        received_at_ms=received_at_ms,
        # Recomputed, not read from the header: conflicts are decided by it.
        sha256=hashlib.sha256(value).hexdigest(),
    )


def decode(record: SourceRecord) -> Notification:
    """The Notification in `record`, or a RecordError saying why it has none."""
    source = _source(record)
    try:
        if source == h.SOURCE_APPLE:
            apple = parse_apple(record.value)
            found = Notification(
                source, apple.uId, apple.notificationId, apple.notificationType, apple
            )
        elif source == h.SOURCE_APP:
            event = parse_app(record.value)
            found = Notification(source, event.tenant_id, event.eventId, event.eventType, event)
        elif source == h.SOURCE_BASELINE:
            baseline = parse_baseline(record.value)
            found = Notification(source, baseline.uId, baseline.baselineId, BASELINE_TYPE, baseline)
        else:
            raise UnknownSourceError(
                f"source header {source!r} is not 'apple', 'app' or 'baseline'"
            )
    except ValidationError as exc:
        raise InvalidBodyError(_first_error(exc)) from None
    if record.key != found.org.encode():
        raise KeyMismatchError(f"record key is not the organization {found.org!r} of the body")
    return found


def identify(record: SourceRecord) -> Notification | None:
    """Who a record that `decode` refused is, when its envelope alone is valid (e.g. a
    countDelta beyond 64 bits in an otherwise good ASSET_COUNT) and its key is the
    organization the envelope names: enough for dedupe to recognise a resend of it.

    None when there is no such identity: not JSON, no valid envelope, an unknown source,
    or a key that is not the organization (a record in another organization's partition
    must not leave a sighting there that could hide that organization's notification).
    """
    source = _source(record)
    try:
        if source == h.SOURCE_APPLE:
            env = NotificationEnvelope.model_validate(load_json(record.value, "envelope"))
            found = Notification(source, env.uId, env.notificationId, env.notificationType, env)
        elif source == h.SOURCE_APP:
            event = AppNotification.model_validate(load_json(record.value, "envelope"))
            found = Notification(source, event.tenant_id, event.eventId, event.eventType, event)
        else:
            return None
    except ValidationError:
        return None
    return found if record.key == found.org.encode() else None


def _source(record: SourceRecord) -> str:
    return (record.header(h.SOURCE) or b"").decode(errors="replace")


def _headers(raw: Any) -> tuple[tuple[str, bytes], ...]:
    """The record's headers as (str, bytes) pairs: aiokafka's are, unless a value is null."""
    pairs = tuple(raw.items() if isinstance(raw, Mapping) else raw)
    for key, value in pairs:
        if type(key) is not str or type(value) is not bytes:
            return tuple((str(k), bytes(v or b"")) for k, v in pairs)
    return pairs


def _header(headers: tuple[tuple[str, bytes], ...], name: str) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0] if errors else {"loc": (), "msg": str(exc)}
    where = ".".join(str(part) for part in first["loc"]) or "(body)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"[:500]
