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

A recreated changelog that was already written past the old offsets (another worker
with a fresh directory ran first) cannot be detected this way either.

The databases are opened read-only, before Faust opens them. The layout is Faust's (one
database per partition, named as Store.partition_path names it, the offset under
Store.offset_key); tests/unit/streams/test_datadir.py fails if an upgrade changes it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.config import WorkerSettings
from streams.errors import StaleTablesError


@dataclass(frozen=True)
class Applied:
    """One local table partition and the last changelog offset applied to it."""

    changelog: str
    partition: int
    offset: int


def create(settings: WorkerSettings) -> None:
    """The data directory and its parents (Faust creates only the last level)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)


def partition_path(tables: Path, table: str, partition: int) -> Path:
    """Where Faust's RocksDB store keeps one table partition (Store.partition_path)."""
    return tables / f"{table}-{partition}.db"


def applied_offsets(
    tables: Path, names: Sequence[tuple[str, str]], partitions: int
) -> list[Applied]:
    """The persisted offset of every local partition of these (table, changelog) names.

    Read from the files, not through Faust's Store objects: those bind to the event loop
    they are first touched in, and the worker's loop does not exist yet.
    """
    import rocksdict
    from faust.stores.rocksdb import Store

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
                raw = db.get(Store.offset_key)
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
        f"like this). If this is the cluster the worker is meant for, stop it, delete "
        f"{tables.absolute()} and start it again: it rebuilds every table from its changelog"
    )


async def end_offsets(bootstrap: str, applied: Sequence[Applied]) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
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
    """Raise StaleTablesError if a local table partition is ahead of its changelog."""
    applied = applied_offsets(tables, names, settings.partitions)
    if not applied:
        return
    ends = await end_offsets(settings.kafka_bootstrap, applied)
    found = stale(applied, ends)
    if found:
        raise StaleTablesError(stale_message(found, ends, tables))
