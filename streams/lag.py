"""Consumer lag per partition of raw-notifications, measured when /metrics is scraped.

Lag is Kafka's own definition (what `kafka-consumer-groups.sh --describe` prints and what
the KEDA trigger scales on): the partition's high watermark minus the group's committed
offset, so it counts the records a crash of this worker would process again, including
those processed but not committed yet (at most one commit interval of them).

Both numbers are already in the worker's memory, so a scrape makes no request to Kafka
and adds nothing to the per-event path: the high watermark arrives with every fetch
response (aiokafka keeps it per partition, even for a fetch that returned no records),
and the committed offset is Faust's record of what it last committed, set from the group
at assignment (Faust's private state, read through streams.faustfence). A partition of
which nothing was committed yet counts from offset 0, and one not yet fetched since its
assignment has no sample.
"""

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streams.faustfence import committed_offset

NAME = "switchboard_stream_consumer_lag"
HELP = "Records of a raw-notifications partition this worker owns not committed by its group."


class Consumer(Protocol):
    """The part of Faust's consumer (app.consumer) read here, with its committed offsets."""

    def assignment(self) -> set[Any]: ...

    def highwater(self, tp: Any) -> int | None: ...


def partition_lags(consumer: Consumer, topic: str) -> dict[int, int]:
    """Lag per assigned partition of `topic`; empty when it cannot be read right now.

    The aiokafka consumer runs in its own thread, so its assignment can change while this
    reads it (a rebalance): that scrape then has no samples rather than a wrong one.
    """
    try:
        lags = {}
        for tp in [tp for tp in consumer.assignment() if tp.topic == topic]:
            end = consumer.highwater(tp)
            if end is not None:
                committed = committed_offset(consumer, tp) or 0
                lags[tp.partition] = max(end - committed, 0)
        return lags
    except Exception:  # ConsumerNotStarted before Kafka answers; a partition just revoked
        return {}


class ConsumerLagCollector(Collector):
    """One gauge sample per owned partition; a revoked partition's series disappears."""

    def __init__(self, consumer: Callable[[], Consumer], topic: str) -> None:
        self._consumer = consumer  # app.consumer is built by Faust after this module loads
        self._topic = topic

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(NAME, HELP, labels=["topic", "partition"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(NAME, HELP, labels=["topic", "partition"])
        for partition, lag in sorted(partition_lags(self._consumer(), self._topic).items()):
            family.add_metric([self._topic, str(partition)], lag)
        yield family
