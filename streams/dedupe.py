"""Deciding whether a notification was seen before, and forgetting old sightings.

A sighting is stored under "<time bucket>|<["source","organization","id"]>", the bucket
being received-at // window. A repeat within the window is in its own bucket or the one
before (two reads) and is then compared exactly in time. (A repeat stamped earlier than
its first sighting, by a gateway whose clock is behind, is missed across a bucket edge.)

Expiry needs no timer and no windowed table (faust-streaming issues 385 and 172: windows
that do not expire after a rebalance with RocksDB, tumbling windows across partitions).
Keys sort by bucket, so while processing an event the worker deletes the oldest keys of
that event's partition, a few per event, once they are two buckets old. A deletion is a
table update of the partition (a changelog tombstone in the right partition), so a
recovered or moved partition forgets the same keys. State holds about two windows.

The time is the gateway's received-at, not the worker's clock: processing the same
records again (a replay, a restart hours later) gives the same verdicts.
"""

import functools
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from streams import store
from streams.keys import table_key
from streams.records import Notification, SourceRecord
from streams.tables import Table

BUCKET_DIGITS = 13


class Verdict(StrEnum):
    NEW = "new"  # first sighting: route and apply
    REPLAY = "replay"  # this very record again (same partition and offset), after a crash
    DUPLICATE = "duplicate"  # same id, same content, within the window: drop, count
    CONFLICT = "conflict"  # same id, different content: to notifications.conflicts


@dataclass(frozen=True, slots=True)
class Sighting:
    sha256: str
    partition: int
    offset: int
    at_ms: int

    @classmethod
    def of(cls, record: SourceRecord) -> "Sighting":
        return cls(record.sha256, record.partition, record.offset, record.received_at_ms)

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> "Sighting":
        return cls(value["sha256"], value["partition"], value["offset"], value["at"])

    def as_value(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "partition": self.partition,
            "offset": self.offset,
            "at": self.at_ms,
        }


def sighting_key(n: Notification, bucket: int) -> str:
    return _in_bucket(bucket, table_key(n.source, n.org, n.id))


def _in_bucket(bucket: int, ident: str) -> str:
    return _bucket_prefix(bucket) + ident


@functools.lru_cache(maxsize=64)
def _bucket_prefix(bucket: int) -> str:
    """Made once per bucket (an hour, by default), not for each of an event's keys."""
    return f"{bucket:0{BUCKET_DIGITS}d}|"


def bucket_of(at_ms: int, window_ms: int) -> int:
    return max(at_ms, 0) // window_ms


def judge(first: Sighting | None, current: Sighting, window_ms: int) -> Verdict:
    if first is None or abs(current.at_ms - first.at_ms) > window_ms:
        return Verdict.NEW
    if (first.partition, first.offset) == (current.partition, current.offset):
        return Verdict.REPLAY
    return Verdict.DUPLICATE if first.sha256 == current.sha256 else Verdict.CONFLICT


def expired_below(at_ms: int, window_ms: int) -> str:
    """Keys sorting below this are at least two buckets old: no repeat can match them."""
    return _bucket_prefix(bucket_of(at_ms, window_ms) - 1)


class Deduper:
    """The seen_notifications table, used as above. One instance per worker."""

    def __init__(self, table: Table, window_s: float, expire_per_event: int = 4) -> None:
        self.table = table
        self.window_ms = max(int(window_s * 1000), 1)
        self.expire_per_event = expire_per_event
        self._clean_below: dict[int, str] = {}  # partition -> expiry done below this key
        self._resume: dict[int, str] = {}  # partition -> last key deleted
        self._last: tuple[Notification, str] | None = None  # see _ident

    def _ident(self, n: Notification) -> str:
        """table_key(source, org, id), made once per notification (check, then remember)."""
        last = self._last
        if last is not None and last[0] is n:
            return last[1]
        ident = table_key(n.source, n.org, n.id)
        self._last = (n, ident)
        return ident

    def first_sighting(self, n: Notification, record: SourceRecord) -> Sighting | None:
        """The sighting of n's id nearest in time to this record, if any."""
        bucket, ident = bucket_of(record.received_at_ms, self.window_ms), self._ident(n)
        before = store.get(self.table, record.partition, _in_bucket(bucket - 1, ident))
        now = store.get(self.table, record.partition, _in_bucket(bucket, ident))
        if before is None and now is None:
            return None  # the common case: a new notification
        sightings = [Sighting.from_value(v) for v in (before, now) if v is not None]
        return min(sightings, key=lambda s: abs(s.at_ms - record.received_at_ms))

    def check(self, n: Notification, record: SourceRecord) -> tuple[Verdict, Sighting | None]:
        first = self.first_sighting(n, record)
        if first is None:
            return Verdict.NEW, None
        return judge(first, Sighting.of(record), self.window_ms), first

    def remember(self, n: Notification, record: SourceRecord) -> None:
        key = _in_bucket(bucket_of(record.received_at_ms, self.window_ms), self._ident(n))
        store.put(self.table, record.partition, key, Sighting.of(record).as_value())

    def expire(self, partition: int, at_ms: int) -> int:
        """Delete up to `expire_per_event` expired sightings of `partition`; the count.

        Scans from the last key deleted, not from the first key: deleted keys stay in
        RocksDB as tombstones until compaction, and reading past them on every event
        would cost more and more.
        """
        cutoff = expired_below(at_ms, self.window_ms)
        if self._clean_below.get(partition, "") >= cutoff:
            return 0
        expired: list[str] = []
        for key, _ in store.scan(self.table, partition, after=self._resume.get(partition)):
            if key >= cutoff or len(expired) > self.expire_per_event:
                break
            expired.append(key)
        if len(expired) <= self.expire_per_event:
            self._clean_below[partition] = cutoff  # nothing older left
        for key in expired[: self.expire_per_event]:
            store.put(self.table, partition, key, None)
            self._resume[partition] = key
        return min(len(expired), self.expire_per_event)
