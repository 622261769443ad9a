"""streams.metrics: the per-type children of the worker's counters."""

from prometheus_client import CollectorRegistry, Counter

from streams import metrics


def counter(registry: CollectorRegistry) -> Counter:
    return Counter("switchboard_test_events", "Test events.", ["type"], registry=registry)


def test_by_type_counts_on_the_counter_it_is_given() -> None:
    """Two counters of one name (one per registry) each get their own child."""
    first, second = CollectorRegistry(), CollectorRegistry()
    a, b = counter(first), counter(second)
    metrics.by_type(a, "ASSET_COUNT").inc()
    metrics.by_type(b, "ASSET_COUNT").inc(2)
    metrics.by_type(b, "INVENTED").inc()
    assert first.get_sample_value("switchboard_test_events_total", {"type": "ASSET_COUNT"}) == 1
    assert second.get_sample_value("switchboard_test_events_total", {"type": "ASSET_COUNT"}) == 2
    assert second.get_sample_value("switchboard_test_events_total", {"type": "other"}) == 1
    assert metrics.by_type(a, "ASSET_COUNT") is metrics.by_type(a, "ASSET_COUNT")
