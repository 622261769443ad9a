"""Prometheus metrics of one gateway app, in a registry of its own (one per app instance).

Labels are bounded: the route template (unknown paths are "other"), the status code, the
tenant id from the tenants file ("-" before authentication) and an auth-failure reason
from a fixed set. Tokens never appear in labels.
"""

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

NO_TENANT = "-"
OTHER_ROUTE = "other"
PUBLISH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class GatewayMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        process_collector.ProcessCollector(registry=self.registry)
        platform_collector.PlatformCollector(registry=self.registry)
        gc_collector.GCCollector(registry=self.registry)
        self.requests = Counter(
            "switchboard_gateway_requests",
            "HTTP requests answered, by route template, status and tenant.",
            ["route", "status", "tenant"],
            registry=self.registry,
        )
        # A plain count read at scrape time: a Gauge's inc/dec take a lock each.
        self.requests_in_flight = 0
        self.in_flight = Gauge(
            "switchboard_gateway_requests_in_flight",
            "HTTP requests being handled.",
            registry=self.registry,
        )
        self.in_flight.set_function(lambda: float(self.requests_in_flight))
        self.publish_seconds = Histogram(
            "switchboard_gateway_publish_seconds",
            "Time from handing a record to the producer to its acknowledgement (acks=all).",
            ["outcome"],
            buckets=PUBLISH_BUCKETS,
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "switchboard_gateway_auth_failures",
            "Requests refused with 401, by route template and reason.",
            ["route", "reason"],
            registry=self.registry,
        )
        self.shared_state_fallbacks = Counter(
            "switchboard_gateway_shared_state_fallbacks",
            "Decisions taken without the shared state store (unreachable or too slow): "
            "replay (a JWT refused with 503), rate_limit (this process's bucket), release "
            "(a refused JWT left marked used).",
            ["concern"],
            registry=self.registry,
        )
        # Children resolved once: labels() costs a lock and a tuple per call.
        self.publish_acked = self.publish_seconds.labels("acked")
        self.publish_failed = self.publish_seconds.labels("failed")
        self._request_children: dict[tuple[str, str, str], Any] = {}
        self.kafka_ready = Gauge(
            "switchboard_gateway_kafka_ready",
            "1 when the producer is connected to Kafka (what /readyz reports).",
            registry=self.registry,
        )

    def count_request(self, route: str, status: str, tenant: str) -> None:
        key = (route, status, tenant)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(*key)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
