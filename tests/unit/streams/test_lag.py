"""Consumer lag from Faust's consumer state (streams.lag; the canary for the private name
it reads is in test_faustfence.py)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP

from streams.lag import NAME, ConsumerLagCollector, partition_lags

RAW = "raw-notifications"


@dataclass
class FakeConsumer:
    highwaters: dict[TP, int | None]
    _committed_offset: Mapping[Any, int | None] = field(default_factory=dict)
    started: bool = True

    def assignment(self) -> set[Any]:
        if not self.started:
            raise RuntimeError("ConsumerNotStarted")
        return set(self.highwaters)

    def highwater(self, tp: Any) -> int | None:
        return self.highwaters[tp]


def test_lag_is_highwater_minus_committed_for_the_source_topic_only() -> None:
    consumer = FakeConsumer(
        {
            TP(RAW, 0): 10,
            TP(RAW, 1): 5,
            TP(RAW, 2): None,  # not fetched yet since its assignment
            TP(RAW, 3): 7,
            TP("app-seen_notifications-changelog", 0): 99,
        },
        {TP(RAW, 0): 4, TP(RAW, 1): 5, TP(RAW, 3): None},
    )
    assert partition_lags(consumer, RAW) == {0: 6, 1: 0, 3: 7}


def test_no_samples_before_the_consumer_started() -> None:
    consumer = FakeConsumer({TP(RAW, 0): 1}, started=False)
    assert partition_lags(consumer, RAW) == {}
    (family,) = ConsumerLagCollector(lambda: consumer, RAW).collect()
    assert (family.name, family.samples) == (NAME, [])


def test_no_samples_while_a_partition_is_revoked_under_the_scrape() -> None:
    consumer = FakeConsumer({TP(RAW, 0): 1})

    def revoked(tp: Any) -> int | None:
        raise AssertionError("Partition is not assigned")  # aiokafka's highwater()

    consumer.highwater = revoked  # type: ignore[method-assign]
    assert partition_lags(consumer, RAW) == {}


def test_collector_labels_topic_and_partition() -> None:
    consumer = FakeConsumer({TP(RAW, 2): 3})
    (family,) = ConsumerLagCollector(lambda: consumer, RAW).collect()
    assert [(s.labels, s.value) for s in family.samples] == [({"topic": RAW, "partition": "2"}, 3)]
