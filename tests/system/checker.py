"""The end-of-scenario check: what Kafka and the query views hold equals what was accepted.

Per-type topics are read from the beginning up to their end offsets (taken once the worker
group has committed every raw record, so every accepted notification has been routed).
Counting is by id, for the scenario's own organizations only. Query views are read with
the owning tenant's bearer token and compared with the Oracle built from the sender's
accepted notifications, in the order they were accepted.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import PER_TYPE_TOPICS, topic_for
from streams.watermarks import source_offset
from switchboard.sender import SendReport
from switchboard.workload import Oracle, Workload
from tests.integration.streams_fixtures import wait_caught_up
from tests.system.stack import PARTITIONS, Stack


@dataclass
class Check:
    accepted: int = 0
    rejected_deliveries: int = 0  # answers other than 2xx, and requests with no answer
    raw_records: int = 0  # records of this scenario on raw-notifications: retries, repeats
    routed: int = 0  # records of this scenario on the per-type topics
    repeats: Counter[str] = field(default_factory=Counter)  # id -> copies beyond the first
    # id -> where each copy of a repeated id is: per-type and raw records, with the
    # source offset a per-type record names (to tell a failed dedupe from a re-forward)
    repeated_at: dict[str, list[str]] = field(default_factory=dict)
    views_checked: int = 0  # query answers compared with the oracle
    problems: list[str] = field(default_factory=list)

    @property
    def duplicates_dropped(self) -> int:
        return self.raw_records - (self.routed - sum(self.repeats.values()))

    def summary(self, name: str, report: SendReport) -> str:
        result = "OK" if not self.problems else f"FAILED ({len(self.problems)} problems)"
        return (
            f"[{name}] offered={report.offered} accepted={len(report.accepted)} "
            f"rejected={report.rejected} deliveries={report.deliveries} "
            f"raw_records={self.raw_records} duplicates_dropped={self.duplicates_dropped} "
            f"routed={self.routed} per_type_repeats={sum(self.repeats.values())} "
            f"views_checked={self.views_checked} refused_for={report.refused_for_s:.1f}s "
            f"statuses={dict(sorted(report.statuses.items()))} check={result}"
            + "".join(f"\n    repeated {i}: {' '.join(at)}" for i, at in self.repeated_at.items())
        )


def notification_id(value: bytes) -> str:
    doc = json.loads(value)
    return str(doc.get("notificationId") or doc["eventId"])


def notification_type(value: bytes) -> str:
    doc = json.loads(value)
    return str(doc.get("notificationType") or doc["eventType"])


async def read_topics(bootstrap: str, topics: list[str]) -> dict[str, list[Any]]:
    """Every record of `topics`, from the beginning to the end offsets as of now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    got: dict[str, list[Any]] = defaultdict(list)
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        deadline = time.monotonic() + 60
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            assert time.monotonic() < deadline, "per-type topics not read within 60 s"
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                got[tp.topic].extend(r for r in records if r.offset < ends[tp])
    finally:
        await consumer.stop()
    return got


def check_topics(stack: Stack, workload: Workload, report: SendReport, check: Check) -> None:
    orgs = {o.key.encode() for o in workload.orgs}
    per_type = [stack.group.topic(t) for t in PER_TYPE_TOPICS]
    records = asyncio.run(read_topics(stack.cluster.bootstrap, [stack.raw_topic, *per_type]))
    check.raw_records = sum(r.key in orgs for r in records[stack.raw_topic])
    copies: dict[str, list[bytes]] = defaultdict(list)
    for topic in per_type:
        for record in (r for r in records[topic] if r.key in orgs):
            nid = notification_id(record.value)
            copies[nid].append(record.value)
            if stack.group.topic(topic_for(notification_type(record.value))) != topic:
                check.problems.append(f"{nid} on {topic}, not its type's topic")
    check.routed = sum(len(v) for v in copies.values())
    check.repeats = Counter({i: len(v) - 1 for i, v in copies.items() if len(v) > 1})
    check.repeated_at = where(records, sorted(check.repeats)[:10])
    accepted = {n.id for n in report.accepted}
    missing, extra = accepted - copies.keys(), copies.keys() - accepted
    if missing:
        check.problems.append(f"{len(missing)} accepted ids missing, e.g. {sorted(missing)[:3]}")
    if extra:
        check.problems.append(f"{len(extra)} ids routed but never accepted: {sorted(extra)[:3]}")
    changed = [i for i, v in copies.items() if len(set(v)) > 1]
    if changed:
        check.problems.append(f"{len(changed)} ids repeated with different bytes: {changed[:3]}")


def where(records: dict[str, list[Any]], ids: list[str]) -> dict[str, list[str]]:
    """Each record of `ids`, as topic-partition@offset, <source offset on an output, and
    when it was made (epoch seconds, to set beside the workers' logs): two outputs of one
    source offset were forwarded twice, of two, deduped wrongly."""
    at: dict[str, list[str]] = {i: [] for i in ids}
    if not at:
        return at  # no repeat: nothing to read again
    for topic, got in records.items():
        for r in got:
            try:
                nid = notification_id(r.value)
            except (ValueError, KeyError, TypeError):
                continue  # not a notification (another scenario's bad input)
            if nid in at:
                source = source_offset(r.headers)
                tail = "" if source is None else f"<{source}"
                at[nid].append(f"{topic}-{r.partition}@{r.offset}{tail}@{r.timestamp / 1000:.2f}")
    return at


class Views:
    """GETs on the query views as the organization's tenant; retried while 503."""

    def __init__(self, stack: Stack, workload: Workload, client: httpx.AsyncClient) -> None:
        self.client, self.base = client, stack.group.workers[0].url
        self.tokens = stack.credentials.tokens
        self.tenant_of = {o.key: o.tenant for o in workload.orgs}
        self.slots = asyncio.Semaphore(16)

    async def get(self, org: str, path: str, **params: str) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[self.tenant_of[org]]}"}
        deadline = time.monotonic() + 30
        async with self.slots:
            while True:
                r = await self.client.get(self.base + path, params=params, headers=headers)
                if r.status_code != 503 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
        return r.json() if r.status_code == 200 else r.status_code


async def _compare(views: Views, org: str, path: str, want: Any, got_of: Any, **q: str) -> str:
    answer = await views.get(org, path, **q)
    got = got_of(answer) if isinstance(answer, dict | list) else answer
    return "" if got == want else f"{path} {q or ''}: got {got!r}, want {want!r}"


def _counts(rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    return {(r["adamId"], r["pricingParam"]): r["count"] for r in rows}


def _assignment(v: dict[str, Any]) -> tuple[set[str], set[str], str | None]:
    error = v.get("lastError")
    return set(v["serialNumbers"]), set(v["clientUserIds"]), error and error["notificationId"]


USER_FIELDS = ("status", "email", "inviteCode", "idHash")


def _user(v: dict[str, Any]) -> dict[str, Any]:
    return {f: v.get(f) for f in USER_FIELDS}


def _tenant(v: dict[str, Any]) -> dict[str, Any]:
    return {f: v.get(f) for f in ("tenantRestUrl", "productUuid", "eventId")}


def comparisons(views: Views, oracle: Oracle) -> list[Any]:
    """One coroutine per view answer the oracle predicts."""
    counts: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for (uid, adam, pricing), count in oracle.asset_counts.items():
        counts[uid][(adam, pricing)] = count
    jobs = [_compare(views, u, f"/v1/orgs/{u}/asset-counts", c, _counts) for u, c in counts.items()]
    for (uid, adam, pricing), s in oracle.assignments.items():
        held = (s["serialNumbers"], s["clientUserIds"], s["lastError"])
        path = f"/v1/orgs/{uid}/assignments"
        query = {"adamId": adam, "pricingParam": pricing}
        jobs.append(_compare(views, uid, path, held, _assignment, **query))
    for (uid, user), state in oracle.users.items():
        fields = {f: state.get(f) for f in USER_FIELDS}
        jobs.append(_compare(views, uid, f"/v1/orgs/{uid}/users/{user}", fields, _user))
    for uid, nid in oracle.last_tests.items():
        path = f"/v1/orgs/{uid}/last-test"
        jobs.append(_compare(views, uid, path, nid, lambda v: v.get("notificationId")))
    for tid, want in oracle.tenant_urls.items():
        jobs.append(_compare(views, tid, f"/v1/tenants/{tid}", want, _tenant))
    return jobs


async def check_views(stack: Stack, workload: Workload, report: SendReport, check: Check) -> int:
    oracle = Oracle()
    for n in report.accepted:
        oracle.apply(n)
    async with httpx.AsyncClient(timeout=10) as client:
        results = await asyncio.gather(*comparisons(Views(stack, workload, client), oracle))
    wrong = [r for r in results if r]
    if wrong:
        check.problems.append(f"{len(wrong)} of {len(results)} view answers differ: {wrong[:3]}")
    return len(results)


def check_scenario(stack: Stack, workload: Workload, report: SendReport) -> Check:
    """Wait until the group has applied every raw record, then compare everything."""
    check = Check(accepted=len(report.accepted), rejected_deliveries=report.rejected)
    asyncio.run(
        wait_caught_up(
            stack.cluster.bootstrap, stack.group.name, stack.raw_topic, PARTITIONS, limit_s=120
        )
    )
    check_topics(stack, workload, report, check)
    check.views_checked = asyncio.run(check_views(stack, workload, report, check))
    return check
