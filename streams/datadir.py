"""The worker's data directory: created at start, and checked against the changelogs.

Each table partition is a RocksDB database under the data directory holding, next to the
rows, its persisted offset: the offset of the last changelog record applied to it. The
changelog can only grow (compaction removes old records, never offsets), so a persisted
offset at or past the end of its changelog partition means the rows came from another
topic of that name: the cluster was recreated (`.kafka/` deleted) or the topics deleted,
and the data directory kept. Faust's recovery then dies with a ConsistencyError deep in a
traceback or, where its check reads an offset of 0 as "none" (an old or a new partition
with a single record), goes on serving the old cluster's rows as current.

The worker refuses to start instead, in one line naming the tables directory to delete;
it does not delete it itself. The changelog is the source of truth when the data
directory is stale, but an offset past the end is also what a broker that lost
acknowledged records leaves (an unclean leader election, a single broker's disk lost and
reformatted): then the local rows are the last copy of updates the cluster lost, and
wiping them would make the loss final without anyone deciding it. From offsets alone
the two cannot be told apart, so an operator decides; deleting the directory is safe
whenever the cluster is the one meant, as recovery rebuilds every table from its
changelog.

A recreated changelog already written past the old offsets (another worker with a fresh
directory ran first, or a table rebuild refilled it) looks current by its offsets. For a
recreated cluster (`.kafka/` deleted, a new cluster behind the same address) the tables
directory also keeps the id of the Kafka cluster it was written against, and a worker
whose tables come from another cluster id is refused the same way. Within one cluster it
keeps the topic id of each changelog (streams.topicids): a changelog deleted and created
again has a new one, and tables written against the old one are refused, however long
the new changelog has grown.

The databases are opened read-only, before Faust opens them. The layout is Faust's (one
database per partition, the offset under its own key): streams.faustfence.
"""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.config import WorkerSettings
from streams.errors import StaleTablesError
from streams.topicids import topic_ids

CLUSTER_MARKER = "kafka-cluster-id"  # in the tables directory, deleted along with it
TOPIC_IDS = "changelog-topic-ids.json"  # likewise
REBUILD = (
    "If this is the cluster the worker is meant for, delete {tables} and start the worker "
    "again: it rebuilds every table from its changelog"
)


@dataclass(frozen=True)
class Applied:
    """One local table partition and the last changelog offset applied to it."""

    changelog: str
    partition: int
    offset: int


def create(settings: WorkerSettings) -> None:
    """The data directory and its parents (Faust creates only the last level)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)


def applied_offsets(
    tables: Path, names: Sequence[tuple[str, str]], partitions: int
) -> list[Applied]:
    """The persisted offset of every local partition of these (table, changelog) names.

    Read from the files, not through Faust's Store objects: those bind to the event loop
    they are first touched in, and the worker's loop does not exist yet.
    """
    import rocksdict

    from streams.faustfence import OFFSET_KEY, partition_path

    found: list[Applied] = []
    for table, changelog in names:
        for partition in range(partitions):
            path = partition_path(tables, table, partition)
            if not path.is_dir():
                continue
            db = rocksdict.Rdict(
                str(path),
                options=rocksdict.Options(raw_mode=True),
                access_type=rocksdict.AccessType.read_only(),
            )
            try:
                raw = db.get(OFFSET_KEY)
            finally:
                db.close()
            if raw is not None:
                found.append(Applied(changelog, partition, int(raw)))
    return found


def stale(applied: Sequence[Applied], ends: dict[tuple[str, int], int]) -> list[Applied]:
    """The partitions applied up to an offset their changelog does not have."""
    return [a for a in applied if a.offset >= ends.get((a.changelog, a.partition), 0)]


def stale_message(found: Sequence[Applied], ends: dict[tuple[str, int], int], tables: Path) -> str:
    first = found[0]
    end = ends.get((first.changelog, first.partition), 0)
    return (
        f"the data directory holds tables from another Kafka cluster or from deleted topics: "
        f"{first.changelog} partition {first.partition} was applied up to offset "
        f"{first.offset} but that topic ends at offset {end} ({len(found)} table partitions "
        f"like this). {REBUILD.format(tables=tables.absolute())}"
    )


def other_cluster_message(known: str, cluster: str, tables: Path) -> str:
    return (
        f"the data directory holds tables from another Kafka cluster: they were written "
        f"against cluster id {known}, this broker is cluster id {cluster}, and their "
        f"changelog offsets mean nothing here. {REBUILD.format(tables=tables.absolute())}"
    )


def recreated(known: dict[str, str], current: dict[str, str]) -> list[str]:
    """The changelogs whose topic id is not the one the tables were written against."""
    return sorted(name for name, id_ in known.items() if current.get(name, id_) != id_)


def recreated_message(
    names: Sequence[str], known: dict[str, str], current: dict[str, str], tables: Path
) -> str:
    first = names[0]
    return (
        f"the data directory holds tables whose changelog topics were deleted and created "
        f"again since (a table rebuild, or topics deleted by hand): {first} is topic id "
        f"{current[first]}, the tables were written against topic id {known[first]} "
        f"({len(names)} changelogs like this). {REBUILD.format(tables=tables.absolute())}"
    )


def remembered_topic_ids(tables: Path) -> dict[str, str]:
    marker = tables / TOPIC_IDS
    if not marker.is_file():
        return {}  # tables written before ids were kept: nothing to compare
    return dict(json.loads(marker.read_text(encoding="utf-8")))


def remember_topic_ids(tables: Path, ids: dict[str, str]) -> None:
    (tables / TOPIC_IDS).write_text(json.dumps(ids, sort_keys=True) + "\n", encoding="utf-8")


def remembered_cluster(tables: Path) -> str | None:
    marker = tables / CLUSTER_MARKER
    return marker.read_text(encoding="utf-8").strip() if marker.is_file() else None


def remember_cluster(tables: Path, cluster: str) -> None:
    tables.mkdir(parents=True, exist_ok=True)
    (tables / CLUSTER_MARKER).write_text(cluster + "\n", encoding="utf-8")


async def cluster_id(bootstrap: str, security: dict[str, Any]) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    await admin.start()
    try:
        return str((await admin.describe_cluster())["cluster_id"])
    finally:
        await admin.close()


async def end_offsets(
    bootstrap: str, security: dict[str, Any], applied: Sequence[Applied]
) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security)
    await consumer.start()
    try:
        tps = [TopicPartition(a.changelog, a.partition) for a in applied]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


async def check_against_changelogs(
    settings: WorkerSettings, tables: Path, names: Sequence[tuple[str, str]]
) -> None:
    """Raise StaleTablesError if the local tables come from another cluster, are ahead
    of their changelogs or were written against changelogs deleted since; else remember
    this cluster's id and the changelogs' topic ids next to them."""
    security = settings.aiokafka_security()
    cluster = await cluster_id(settings.kafka_bootstrap, security)
    ids = await asyncio.to_thread(topic_ids, settings, [changelog for _, changelog in names])
    applied = applied_offsets(tables, names, settings.partitions)
    if applied:
        known = remembered_cluster(tables)
        if known is not None and known != cluster:
            raise StaleTablesError(other_cluster_message(known, cluster, tables))
        ends = await end_offsets(settings.kafka_bootstrap, security, applied)
        found = stale(applied, ends)
        if found:
            raise StaleTablesError(stale_message(found, ends, tables))
        kept = remembered_topic_ids(tables)
        renewed = recreated(kept, ids)
        if renewed:
            raise StaleTablesError(recreated_message(renewed, kept, ids, tables))
    remember_cluster(tables, cluster)
    remember_topic_ids(tables, ids)
