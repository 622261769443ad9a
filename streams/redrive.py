"""Redriven dead letters: ordered by their original position, let through dedupe once.

`switchboard dead-letters redrive` publishes a dead letter's original again to
raw-notifications, keyed by its organization as the gateway keys it, with two headers
(schemas.headers): REDRIVE_SOURCE, the original's position, and REDRIVE_RECEIVED_AT, its
gateway time. The redrive gets a new, higher offset, in the original's partition.

Order. Every table row keeps the offset of the last source event applied to it
(streams.updates). A redrive is compared by its original offset instead, so a row that
a newer event changed meanwhile keeps the newer value, and a row nothing changed since
takes the redrive's, with the original offset (a replay of the redrive is then skipped
like any applied event). Offsets order records of one partition only: a redrive in
another partition than its original (partitions added since, so the key hashes
elsewhere) is dead-lettered as redrive-refused, never applied out of order. Asset counts
are sums of deltas, which commute: a redriven delta is added, its own offset guarding
it against a replay (with a baseline, see the README's limits).

Once. A dead-lettered original whose id was readable is remembered by dedupe, so the
redrive would be its DUPLICATE. A redrive is judged by a marker kept under its original
position (`marker_key`) instead: absent -> NEW; naming this very record -> REPLAY (a
crash before the commit); naming a redrive that was dead-lettered again -> NEW (it may
try again); naming another, applied redrive -> DUPLICATE (redriven twice). Without a
marker, a sighting of the id near the original's time that is not the original itself
(another record with that id was applied) is judged as dedupe judges it. Markers sort
after every time bucket ("redrive|..." > digits), so expiry never deletes them: one small
row per redriven record stays, and a redrive is applied at most once, however late.
"""

from dataclasses import dataclass, replace
from typing import Any

from schemas import headers as h
from streams import store
from streams.dedupe import Deduper, Sighting, Verdict, judge
from streams.errors import RedriveRefusedError
from streams.records import Notification, SourceRecord

MARKER_PREFIX = "redrive|"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a redriven record was first accepted: raw-notifications partition and offset."""

    partition: int
    offset: int
    received_at_ms: int


@dataclass(frozen=True, slots=True)
class Marker:
    sighting: Sighting  # the redrive that passed dedupe for this origin
    dead: bool  # that redrive was dead-lettered again

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> "Marker":
        return cls(Sighting.from_value(value), bool(value.get("dead", False)))


def origin_of(record: SourceRecord) -> Origin | None:
    """The original position of a redriven record, None for any other record.

    RedriveRefusedError when it names no usable position: not in this record's topic
    and partition, or not before it."""
    raw = record.header(h.REDRIVE_SOURCE)
    if raw is None:
        return None
    text = raw.decode(errors="replace")
    try:
        topic, partition, offset = h.parse_position(text)
    except ValueError as exc:
        raise RedriveRefusedError(f"{h.REDRIVE_SOURCE} {exc}") from None
    origin = Origin(partition, offset, record.received_at_ms)
    if topic != record.topic or origin.partition != record.partition:
        raise RedriveRefusedError(
            f"redriven from {text} into {record.position} (partitions added since?): "
            "its original offset cannot be ordered with this partition's"
        )
    if not 0 <= origin.offset < record.offset:
        raise RedriveRefusedError(f"original offset {origin.offset} is not before this record")
    try:
        at_ms = int(record.header(h.REDRIVE_RECEIVED_AT) or b"")
    except ValueError:
        return origin  # no usable original time: the redrive's own
    return replace(origin, received_at_ms=at_ms) if at_ms > 0 else origin


def marker_key(origin: Origin) -> str:
    return f"{MARKER_PREFIX}{origin.partition}|{origin.offset}"


def judge_redrive(
    marker: Marker | None, first: Sighting | None, current: Sighting, origin: Origin, window_ms: int
) -> Verdict:
    """`current` is the redrive stamped with its original time, `first` the id's sighting
    nearest to that time (see the module docstring)."""
    if marker is not None:
        if (marker.sighting.partition, marker.sighting.offset) == (
            current.partition,
            current.offset,
        ):
            return Verdict.REPLAY
        return Verdict.NEW if marker.dead else Verdict.DUPLICATE
    if first is None or (first.partition, first.offset) == (origin.partition, origin.offset):
        return Verdict.NEW  # unseen, or seen only as the dead-lettered original
    return judge(first, current, window_ms)


class Redrives:
    """The markers, in the deduper's table (seen_notifications)."""

    def __init__(self, deduper: Deduper) -> None:
        self.deduper = deduper

    def check(
        self, n: Notification, record: SourceRecord, origin: Origin
    ) -> tuple[Verdict, Sighting | None]:
        found = store.get(self.deduper.table, record.partition, marker_key(origin))
        marker = Marker.from_value(found) if found is not None else None
        then = replace(record, received_at_ms=origin.received_at_ms)
        first = self.deduper.first_sighting(n, then)
        verdict = judge_redrive(marker, first, Sighting.of(then), origin, self.deduper.window_ms)
        return verdict, first

    def remember(self, record: SourceRecord, origin: Origin, dead: bool) -> None:
        sighting = Sighting(record.sha256, record.partition, record.offset, origin.received_at_ms)
        value = {**sighting.as_value(), "dead": dead}
        store.put(self.deduper.table, record.partition, marker_key(origin), value)
