"""`switchboard tables rebuild`: fresh tables from raw-notifications, nothing forwarded again.

The tables are derived data: every value is what the records of raw-notifications made
of it. A rebuild (a table layout changed, or tables lost) replays that topic from its
earliest retained offset into empty tables, with the workers stopped:

1. Survey. Refused while the worker consumer group (SWITCHBOARD_APP_ID) has members: a
   running worker would keep serving and writing the old tables. For each partition of
   raw-notifications: its earliest retained offset, its end (the replay's target) and the
   group's committed offset (the floor: every record below it was processed, and the
   group commits only after that record's outputs were flushed).
2. With --yes: the changelog topics are deleted (recreated empty by the replay worker),
   the local tables directory of SWITCHBOARD_DATA_DIR is deleted, the group's offsets are
   set back to the earliest retained ones, and the floors are kept in the consumer group
   `<app_id>-rebuild` so a rebuild run again after an interruption keeps them.
3. Replay: one real worker (`python -m streams`) with a temporary data directory and the
   floors (SWITCHBOARD_REBUILD_FORWARDED_BELOW), until the group has committed the
   target of every partition; then it is stopped (SIGTERM: it flushes and commits).
   The workers' own data directories (k8s PVCs) are the operator's to delete; a worker
   started on one is refused (streams.datadir keeps the changelogs' topic ids).

Nothing below a floor is forwarded again: such records count as already on every output
(streams.watermarks), whether or not their output partition still holds them (the
per-type topics keep less than raw-notifications). Records at or past a floor were never
committed: the replay forwards them unless their output's tail says it holds them, as a
worker restarting after a crash would. The output topics' end offsets before and after
are compared in the summary.

Limits: only what raw-notifications still holds can be rebuilt. An earliest offset above
0 means the updates of the records before it (retention, 30 days in k8s/) are not in the
rebuilt tables; the survey says how many per partition.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka import TopicPartition

from schemas import topics as names
from streams.config import WorkerSettings
from switchboard.groupadmin import Kafka

REBUILD_GROUP_SUFFIX = "-rebuild"  # where the floors are kept between runs
OUTPUTS = (*names.PER_TYPE_TOPICS, names.DEAD_LETTER, names.CONFLICTS)


class RebuildError(Exception):
    """A rebuild refused or failed; the message says what to do, in one line."""


@dataclass(frozen=True)
class Span:
    """One partition of raw-notifications as the rebuild sees it."""

    partition: int
    earliest: int  # the first offset retention kept
    end: int  # the replay's target
    floor: int  # records below it were committed by the worker group: never forwarded again

    @property
    def records(self) -> int:
        return self.end - self.earliest


@dataclass(frozen=True)
class Survey:
    group: str
    source: str
    members: int
    spans: list[Span]
    changelogs: list[str]  # the existing ones
    outputs_end: int  # records on the output topics, all partitions

    def warnings(self) -> list[str]:
        """What the rebuilt tables will miss, with the numbers."""
        lines = [
            f"{self.source} partition {s.partition} starts at offset {s.earliest}: the "
            f"{s.earliest} records before it are past retention, and their updates will "
            f"not be in the rebuilt tables"
            for s in self.spans
            if s.earliest > 0
        ]
        lines += [
            f"{self.source} partition {s.partition}: the worker group had processed only up "
            f"to offset {s.floor}; records {s.floor}..{s.earliest - 1} were never processed "
            f"and are gone"
            for s in self.spans
            if s.floor < s.earliest
        ]
        return lines

    def plan(self, tables_dir: Path) -> list[str]:
        total = sum(s.records for s in self.spans)
        return [
            f"delete the changelog topics ({len(self.changelogs)}): "
            + (", ".join(self.changelogs) or "none exist"),
            f"delete the local tables directory {tables_dir.absolute()}"
            + ("" if tables_dir.exists() else " (absent here)"),
            f"set consumer group {self.group}'s offsets on {self.source} back to the earliest "
            f"retained ones and replay {total:,} records with one worker, forwarding none "
            f"below the group's offsets "
            + ", ".join(f"{s.partition}:{s.floor}" for s in self.spans),
        ]


def changelog_names(settings: WorkerSettings) -> list[str]:
    """Faust's changelog topic of every table (`<app_id>-<table>-changelog`)."""
    from streams.tables import TABLES  # imports the Faust app

    return sorted(t.changelog_topic.get_topic_name() for t in TABLES.values())


def tables_dir() -> Path:
    from streams.app import app

    return Path(app.conf.tabledir)


async def survey(settings: WorkerSettings, changelogs: Sequence[str]) -> Survey:
    group, source = settings.app_id, settings.topic(names.RAW_NOTIFICATIONS)
    async with Kafka(settings) as kafka:
        existing = set(await kafka.admin.list_topics())
        if source not in existing:
            raise RebuildError(
                f"no topic {source} at {settings.kafka_bootstrap}: nothing to replay"
            )
        tps = [TopicPartition(source, p) for p in range(settings.partitions)]
        earliest = await kafka.consumer.beginning_offsets(tps)
        ends = await kafka.consumer.end_offsets(tps)
        committed = await kafka.committed(group, source)
        kept = await kafka.committed(group + REBUILD_GROUP_SUFFIX, source)
        outputs = await kafka.ends(
            [settings.topic(t) for t in OUTPUTS if settings.topic(t) in existing]
        )
        members = await kafka.members(group)
    # A floor past the end would name records that do not exist (a recreated topic).
    spans = [
        Span(p, earliest[tp], ends[tp], min(max(committed.get(p, 0), kept.get(p, 0), 0), ends[tp]))
        for p, tp in enumerate(tps)
    ]
    present = [c for c in changelogs if c in existing]
    return Survey(group, source, members, spans, present, sum(outputs.values()))


def refusal(s: Survey) -> str | None:
    if s.members:
        return (
            f"the worker group {s.group} has {s.members} members: stop every worker first "
            f"(kubectl scale statefulset/switchboard-worker --replicas=0; the gateway may "
            f"stay up, raw-notifications keeps what it accepts). A worker killed without a "
            f"clean stop stays a member for SWITCHBOARD_SESSION_TIMEOUT_S"
        )
    return None


async def reset(settings: WorkerSettings, s: Survey, tables: Path) -> None:
    """The dangerous part: old tables gone (changelogs and local files), offsets back."""
    async with Kafka(settings) as kafka:
        # The floors first: if anything below fails, a second run still knows them.
        floors = {TopicPartition(s.source, x.partition): x.floor for x in s.spans}
        await kafka.commit(s.group + REBUILD_GROUP_SUFFIX, floors)
        try:
            await kafka.delete_topics(s.changelogs)
        except TimeoutError as exc:
            raise RebuildError(f"{exc}; run the rebuild again") from None
        shutil.rmtree(tables, ignore_errors=True)
        starts = {TopicPartition(s.source, x.partition): x.earliest for x in s.spans}
        await kafka.commit(s.group, starts)


Progress = Callable[[dict[int, int]], None]  # partition -> offset the group has committed


def replay(settings: WorkerSettings, s: Survey, progress: Progress, poll_s: float = 1.0) -> None:
    """Run one worker until the group has committed every span's target, then stop it."""
    with tempfile.TemporaryDirectory(prefix="switchboard-rebuild-") as tmp:
        log_path = Path(tmp) / "worker.log"
        env = replay_env(settings, s, Path(tmp) / "data")
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streams"], env=env, stdout=log, stderr=log
            )
        try:
            finished = asyncio.run(_follow(settings, s, proc, progress, poll_s))
        finally:
            _stop(proc)
        if not finished:
            tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
            raise RebuildError(
                f"the replay worker exited {proc.returncode} before the end; its last "
                f"log lines: " + " | ".join(tail)
            )


def replay_env(settings: WorkerSettings, s: Survey, data: Path) -> dict[str, str]:
    from switchboard.localkafka import free_port

    return {
        **os.environ,
        "SWITCHBOARD_DATA_DIR": str(data),
        "SWITCHBOARD_WEB_BIND": "127.0.0.1",
        "SWITCHBOARD_WEB_HOST": "127.0.0.1",
        "SWITCHBOARD_WEB_PORT": str(free_port()),
        "SWITCHBOARD_STANDBY_REPLICAS": "0",  # it is the group's only member
        "SWITCHBOARD_REBUILD_FORWARDED_BELOW": json.dumps({x.partition: x.floor for x in s.spans}),
    }


async def _follow(
    settings: WorkerSettings,
    s: Survey,
    proc: subprocess.Popen[bytes],
    progress: Progress,
    poll_s: float,
) -> bool:
    """True once every target is committed; False if the worker exited before."""
    async with Kafka(settings) as kafka:
        while True:
            committed = await kafka.committed(s.group, s.source)
            done = {
                x.partition: max(committed.get(x.partition, x.earliest), x.earliest)
                for x in s.spans
            }
            progress(done)
            if all(done[x.partition] >= x.end for x in s.spans):
                return True
            if proc.poll() is not None:
                return False
            await asyncio.sleep(poll_s)


def _stop(proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    """SIGTERM: Faust stops its agents, flushes the producer and commits."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def outputs_end(settings: WorkerSettings) -> int:
    async with Kafka(settings) as kafka:
        return sum((await kafka.ends([settings.topic(t) for t in OUTPUTS])).values())


def run_rebuild(yes: bool, say: Callable[[str], None]) -> None:
    """The whole command: survey, refuse or warn, print the plan, and with `yes` do it."""
    from switchboard.progress import PartitionBars

    settings = WorkerSettings()
    if settings.tenants_file is None:  # the replay worker is a worker: it needs one
        raise RebuildError("SWITCHBOARD_TENANTS_FILE is required, as for `switchboard worker`")
    changelogs, tables = changelog_names(settings), tables_dir()
    s = asyncio.run(survey(settings, changelogs))
    refused = refusal(s)
    if refused is not None:
        raise RebuildError(refused)
    for line in s.warnings():
        say(f"warning: {line}")
    say("The rebuild will:" if yes else "The rebuild would (nothing done without --yes):")
    for step in s.plan(tables):
        say(f"  - {step}")
    if not yes:
        return
    started = time.monotonic()
    asyncio.run(reset(settings, s, tables))
    say(f"deleted {len(s.changelogs)} changelog topics and {tables}; offsets reset")
    with PartitionBars({x.partition: (x.earliest, x.end) for x in s.spans}) as bars:
        replay(settings, s, bars.update)
    after = asyncio.run(outputs_end(settings))
    say(summary(s, len(changelogs), after, time.monotonic() - started))


def summary(s: Survey, tables: int, outputs_after: int, took_s: float) -> str:
    written = outputs_after - s.outputs_end
    return (
        f"rebuilt the {tables} tables from "
        f"{sum(x.records for x in s.spans):,} records of {s.source} in {took_s:,.1f} s; "
        f"records written to the output topics meanwhile: {written} (none below the "
        f"group's old offsets; any others are records the workers had not processed yet). "
        f"Start the workers with empty data directories: they recover the tables from "
        f"the new changelogs (a worker on an old one is refused)."
    )
