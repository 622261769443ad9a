"""Verdicts on repeats, and expiry of old sightings (memory store)."""

import hashlib

import pytest

from schemas.apple import parse_apple
from streams.dedupe import (
    Deduper,
    Sighting,
    Verdict,
    bucket_of,
    expired_below,
    judge,
    sighting_key,
)
from streams.records import Notification, SourceRecord
from streams.tables import seen_notifications
from tests.unit.streams.support import ACME_UID, Recorder, example_bytes

HOUR_MS = 3_600_000
T0 = 1_700_000_000_000


def sighting(sha: str = "a", partition: int = 0, offset: int = 1, at: int = T0) -> Sighting:
    return Sighting(sha, partition, offset, at)


@pytest.mark.parametrize(
    ("first", "current", "verdict"),
    [
        (None, sighting(), Verdict.NEW),
        (sighting(), sighting(), Verdict.REPLAY),
        (sighting(), sighting(offset=2, at=T0 + 60_000), Verdict.DUPLICATE),
        (sighting(), sighting("b", offset=2, at=T0 + 300_000), Verdict.CONFLICT),
        (sighting(), sighting(offset=9, at=T0 + HOUR_MS), Verdict.DUPLICATE),
        (sighting(), sighting(offset=9, at=T0 + HOUR_MS + 1), Verdict.NEW),
        (sighting(), sighting("b", offset=9, at=T0 + HOUR_MS + 1), Verdict.NEW),
        (sighting(at=T0 + 1000), sighting(offset=2, at=T0), Verdict.DUPLICATE),
    ],
)
def test_judge(first: Sighting | None, current: Sighting, verdict: Verdict) -> None:
    assert judge(first, current, HOUR_MS) is verdict


def test_keys_sort_by_time_and_expiry_keeps_two_buckets() -> None:
    n = notification()
    keys = [sighting_key(n, bucket_of(T0 + i * HOUR_MS, HOUR_MS)) for i in range(3)]
    assert keys == sorted(keys)
    cutoff = expired_below(T0 + 2 * HOUR_MS, HOUR_MS)
    assert keys[0] < cutoff <= keys[1]


def notification(nid: str = "n-1") -> Notification:
    env = parse_apple(example_bytes("apple_asset_count"))
    return Notification("apple", ACME_UID, nid, env.notificationType, env)


def record(offset: int, at: int, body: bytes = b"x", partition: int = 0) -> SourceRecord:
    sha = hashlib.sha256(body).hexdigest()
    return SourceRecord(ACME_UID.encode(), body, (), "raw", partition, offset, at, sha)


def test_deduper_remembers_and_finds_repeats_across_a_bucket_boundary(produced: Recorder) -> None:
    deduper = Deduper(seen_notifications, window_s=3600)
    boundary = (T0 // HOUR_MS + 1) * HOUR_MS
    first = record(0, boundary - 1000)
    assert deduper.check(notification(), first)[0] is Verdict.NEW
    deduper.remember(notification(), first)
    assert deduper.check(notification(), first)[0] is Verdict.REPLAY
    verdict, found = deduper.check(notification(), record(5, boundary + 1000))
    assert verdict is Verdict.DUPLICATE and found == Sighting.of(first)
    assert deduper.check(notification(), record(6, boundary + 2000, b"y"))[0] is Verdict.CONFLICT
    assert deduper.check(notification("n-2"), record(7, boundary))[0] is Verdict.NEW
    changelog = produced.to("switchboard-seen_notifications-changelog")
    assert [r.partition for r in changelog] == [0]


def test_expiry_deletes_old_sightings_of_its_partition_only_a_few_per_event(
    produced: Recorder,
) -> None:
    deduper = Deduper(seen_notifications, window_s=3600, expire_per_event=4)
    for i in range(6):
        deduper.remember(notification(f"old-{i}"), record(i, T0))
    deduper.remember(notification("other-partition"), record(1, T0, partition=1))
    deduper.remember(notification("recent"), record(9, T0 + HOUR_MS))
    later = T0 + 2 * HOUR_MS
    assert deduper.expire(0, T0 + HOUR_MS) == 0  # nothing two buckets old yet
    assert deduper.expire(0, later) == 4
    assert deduper.expire(0, later) == 2
    assert deduper.expire(0, later) == 0
    left = set(seen_notifications.data.data)  # type: ignore[attr-defined]  # memory store
    assert len(left) == 2
    assert any("other-partition" in k for k in left) and any("recent" in k for k in left)
    tombstones = [r for r in produced.records if r.value is None]
    assert len(tombstones) == 6 and {r.partition for r in tombstones} == {0}
    assert deduper.expire(1, later) == 1
