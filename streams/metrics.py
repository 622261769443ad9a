"""Prometheus metrics of a stream worker, served at GET /metrics on the worker's web port.

Type labels are the modelled notification types, "other" for the rest: a sender cannot
create label values (series) by inventing types. The process (memory, CPU, open files),
platform and garbage-collector metrics are prometheus-client's standard collectors;
consumer lag per partition is measured at scrape time (streams.lag, streams.probes).
"""

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    platform_collector,
    process_collector,
)

from schemas.baseline import BASELINE_TYPE
from schemas.topics import TOPIC_BY_TYPE

registry = CollectorRegistry(auto_describe=True)
process_collector.ProcessCollector(registry=registry)
platform_collector.PlatformCollector(registry=registry)
gc_collector.GCCollector(registry=registry)

events = Counter(
    "switchboard_stream_events",
    "First-seen notifications routed to their per-type topic and applied to the tables.",
    ["type"],
    registry=registry,
)
duplicates = Counter(
    "switchboard_stream_duplicates",
    "Repeats of an already seen (organization, id) with the same content, dropped.",
    ["type"],
    registry=registry,
)
conflicts = Counter(
    "switchboard_stream_conflicts",
    "Repeats of an (organization, id) with different content, sent to notifications.conflicts.",
    ["type"],
    registry=registry,
)
replays = Counter(
    "switchboard_stream_replays",
    "Records processed again after a crash or rebalance (same partition and offset).",
    ["type"],
    registry=registry,
)
not_forwarded = Counter(
    "switchboard_stream_replays_not_forwarded",
    "Replayed records not forwarded again: their per-type topic already held them.",
    ["type"],
    registry=registry,
)
dead_letters = Counter(
    "switchboard_stream_dead_letters",
    "Records sent to notifications.dead-letter, by reason kind.",
    ["reason"],
    registry=registry,
)
dead_letter_failures = Counter(
    "switchboard_stream_dead_letter_failures",
    "Records that could not even be sent to the dead-letter topic (see the error log).",
    registry=registry,
)
expired = Counter(
    "switchboard_stream_sightings_expired",
    "Dedupe sightings deleted because they are older than the dedupe window.",
    registry=registry,
)
table_keys = Gauge(
    "switchboard_stream_table_keys",
    "Keys held by this worker per table (RocksDB estimate).",
    ["table"],
    registry=registry,
)
ready = Gauge(
    "switchboard_stream_ready", "1 when tables are recovered and events flow.", registry=registry
)
rebalances = Counter(
    "switchboard_stream_rebalances",
    "Partition assignments this worker received from its consumer group (one per rebalance).",
    registry=registry,
)
lag = Histogram(
    "switchboard_stream_lag_seconds",
    "From the gateway's received-at to the end of processing, first-seen notifications.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=registry,
)


def type_label(notification_type: str) -> str:
    known = notification_type in TOPIC_BY_TYPE or notification_type == BASELINE_TYPE
    return notification_type if known else "other"


# Keyed by the counter itself (compared by identity): the counters live as long as the
# process, and two of one name in different registries stay apart.
_by_type: dict[tuple[Counter, str], Counter] = {}


def by_type(counter: Counter, notification_type: str) -> Counter:
    """`counter`'s child for the type's label, looked up once per (counter, label): the
    labels are bounded (type_label), and labels() costs more than the increment."""
    label = type_label(notification_type)
    child = _by_type.get((counter, label))
    if child is None:
        child = _by_type[counter, label] = counter.labels(label)
    return child
