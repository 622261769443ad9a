"""`switchboard dead-letters list` and `redrive`: what the workers dead-lettered, and its
originals published again to raw-notifications.

A dead letter (streams.agents) is the original record (key, value, headers) plus
dead-letter-reason and dead-letter-source, or, when the original did not fit the topic,
only those two and dead-letter-omitted-bytes: the original is then read from
raw-notifications at dead-letter-source, while retention keeps it there.

A redrive is the original's value and headers, received-at set to the time of the
redrive, plus redrive-source and redrive-received-at: where and when the first original
was accepted (kept from the record when that was already a redrive). It is keyed as the
gateway keys it, by the organization the body names (uId, or tenantId), and must land in
the partition of its original: the workers order it there by the original offset
(streams.redrive). When the organization hashes to another partition now (partitions
were added), the command skips it with that reason instead.

This module decides (pure functions); switchboard.deadletterkafka reads and publishes.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import headers as h
from schemas.sharedsettings import KafkaSettings
from streams.keys import partition_for

Headers = tuple[tuple[str, bytes], ...]
DEAD_LETTER_ONLY = frozenset(
    {h.DEAD_LETTER_REASON, h.DEAD_LETTER_SOURCE, h.DEAD_LETTER_OMITTED, h.SOURCE_OFFSET}
)
REPLACED = frozenset({h.RECEIVED_AT, h.REDRIVE_SOURCE, h.REDRIVE_RECEIVED_AT})


class DeadLetterSettings(KafkaSettings, BaseSettings):
    """The Kafka the workers use: the same SWITCHBOARD_* variables as `switchboard worker`."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore", frozen=True)


class DeadLetterError(Exception):
    """An expected failure of the command: one line, exit status 1."""


@dataclass(frozen=True, slots=True)
class Position:
    topic: str
    partition: int
    offset: int

    @classmethod
    def parse(cls, text: str) -> "Position | None":
        try:
            return cls(*h.parse_position(text))
        except ValueError:
            return None

    def __str__(self) -> str:
        return h.position(self.topic, self.partition, self.offset)


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes | None
    value: bytes
    headers: Headers

    def header(self, name: str) -> str | None:
        found = next((v for k, v in self.headers if k == name), None)
        return found.decode(errors="replace") if found is not None else None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of the dead-letter topic, at `partition`/`offset` there."""

    record: Record
    partition: int
    offset: int
    dead_lettered_ms: int  # the record's timestamp: when the worker dead-lettered it

    @property
    def reason(self) -> str:
        return self.record.header(h.DEAD_LETTER_REASON) or ""

    @property
    def kind(self) -> str:
        return self.reason.split(":", 1)[0]

    @property
    def source(self) -> Position | None:
        return Position.parse(self.record.header(h.DEAD_LETTER_SOURCE) or "")

    @property
    def omitted(self) -> int | None:
        size = self.record.header(h.DEAD_LETTER_OMITTED)
        return _count(size)

    def original(self) -> Record:
        """The record as it was in raw-notifications (only when nothing was omitted)."""
        kept = tuple((k, v) for k, v in self.record.headers if k not in DEAD_LETTER_ONLY)
        return Record(self.record.key, self.record.value, kept)

    def row(self) -> dict[str, Any]:
        what = readable(self.record)
        received = self.record.header(h.RECEIVED_AT)
        return {
            "deadLetteredAt": iso(self.dead_lettered_ms),
            "receivedAt": iso(ms) if (ms := _count(received)) is not None else None,
            "kind": self.kind,
            "reason": self.reason,
            "source": str(self.source) if self.source else None,
            "redriveOf": self.record.header(h.REDRIVE_SOURCE),
            "omittedBytes": self.omitted,
            "tenant": self.record.header(h.TENANT),
            "requestId": self.record.header(h.REQUEST_ID),
            **what,
            "at": f"{self.partition}/{self.offset}",
        }


def readable(record: Record) -> dict[str, str | None]:
    """type, organization and id of the body, where it is JSON that names them."""
    try:
        body = orjson.loads(record.value)
    except orjson.JSONDecodeError:
        body = None
    body = body if isinstance(body, dict) else {}
    data = body.get("data")
    data = data.get("notificationData") if isinstance(data, dict) else None
    tenant_id = data.get("tenantId") if isinstance(data, dict) else None

    def text(*values: Any) -> str | None:
        return next((v for v in values if isinstance(v, str) and v), None)

    return {
        "type": text(body.get("notificationType"), body.get("eventType")),
        "org": text(body.get("uId"), tenant_id),
        "id": text(body.get("notificationId"), body.get("eventId")),
    }


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


_AGO = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime) -> int:
    """`--since`: "30m", "2h", "1d" ago, or an ISO 8601 date or time (UTC unless it
    says otherwise); epoch milliseconds."""
    ago = _AGO.match(text.strip())
    if ago:
        when = now - timedelta(**{_UNIT[ago.group(2)]: int(ago.group(1))})
    else:
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            raise DeadLetterError(
                f"--since {text!r}: give an ISO 8601 time (2026-12-01T10:00:00Z) "
                "or a duration ago (30m, 2h, 1d)"
            ) from None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def check_kind(kind: str | None) -> None:
    if kind is not None and kind not in h.DEAD_LETTER_KINDS:
        known = ", ".join(h.DEAD_LETTER_KINDS)
        raise DeadLetterError(f"--reason {kind!r}: not a dead-letter kind ({known})")


def selected(
    letters: Iterable[DeadLetter], kind: str | None, since_ms: int | None
) -> list[DeadLetter]:
    return [
        letter
        for letter in letters
        if (kind is None or letter.kind == kind)
        and (since_ms is None or letter.dead_lettered_ms >= since_ms)
    ]


COLUMNS = ("deadLetteredAt", "kind", "source", "tenant", "type", "org", "id")


def table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain table, one dead letter a line; `--json` gives every field."""
    head = ["DEAD-LETTERED", "REASON", "RAW POSITION", "TENANT", "TYPE", "ORG", "ID"]
    lines = [head, *([str(row[c] or "-") for c in COLUMNS] for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


# Why a dead letter is skipped (the summary counts each).
NO_KEY = "no organization to key it by"
PARTITION_MOVED = (
    "its organization hashes to another partition than its original's now (partitions "
    "added?): the workers could not order it"
)
NO_SOURCE = "no dead-letter-source header"
NOT_RAW = "its source is not raw-notifications (another SWITCHBOARD_TOPIC_PREFIX?)"
GONE = "its original was omitted and is gone from raw-notifications (retention)"


@dataclass(frozen=True, slots=True)
class Redrive:
    """A record to publish to raw-notifications, to this partition."""

    partition: int
    key: bytes
    value: bytes
    headers: Headers


def plan(original: Record, source: Position, partitions: int, now_ms: int) -> Redrive | str:
    """The redrive of `original`, read at `source`; or why it cannot be redriven."""
    origin = Position.parse(original.header(h.REDRIVE_SOURCE) or "") or source
    at = original.header(h.REDRIVE_RECEIVED_AT) or original.header(h.RECEIVED_AT)
    key = gateway_key(original)
    if key is None:
        return NO_KEY
    partition = partition_for(key, partitions)
    if partition != origin.partition:
        return PARTITION_MOVED
    headers = (
        *((k, v) for k, v in original.headers if k not in REPLACED),
        (h.RECEIVED_AT, str(now_ms).encode()),
        (h.REDRIVE_SOURCE, str(origin).encode()),
        *([(h.REDRIVE_RECEIVED_AT, at.encode())] if at else []),
    )
    return Redrive(partition, key, original.value, headers)


def gateway_key(record: Record) -> bytes | None:
    """The organization the body names (the gateway's key), else the record's key."""
    org = readable(record)["org"]
    return org.encode() if org is not None else record.key


def _count(text: str | None) -> int | None:
    """A header's unsigned decimal number, None when it is none (str.isdigit also says yes
    to digits that int() refuses, such as "²")."""
    return int(text) if text and text.isascii() and text.isdigit() else None
