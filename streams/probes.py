"""Health, readiness and metrics on the worker's web port.

GET /healthz  200 while the process serves HTTP.
GET /readyz   200 only when the last assignment has been handled (tables recovered,
              output marks read, the rebalance counted) and no rebalance is under way;
              503 before, so a load balancer or a test waits on it, never on a sleep.
GET /metrics  Prometheus text (streams.metrics), table sizes and consumer lag (streams.lag)
              measured on each scrape.
"""

import logging
from typing import Any, cast

from faust.tables.manager import TableManager
from faust.web import Request, Response, View
from mode.types.signals import BaseSignalT
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from schemas.topics import RAW_NOTIFICATIONS
from streams import metrics
from streams.app import app, settings
from streams.lag import Consumer, ConsumerLagCollector
from streams.store import estimated_size
from streams.tables import TABLES

log = logging.getLogger(__name__)
READY_LINE = "switchboard worker ready"
metrics.registry.register(
    ConsumerLagCollector(lambda: cast(Consumer, app.consumer), settings.topic(RAW_NOTIFICATIONS))
)


def is_ready() -> bool:
    recovery = cast(TableManager, app.tables).recovery
    return bool(
        app.assignment_handled
        and recovery.completed.is_set()
        and not app.rebalancing
        and not app.should_stop
    )


@app.page("/healthz")
class Health(View):
    async def get(self, request: Request) -> Response:
        return self.json({"status": "ok"})


@app.page("/readyz")
class Readiness(View):
    async def get(self, request: Request) -> Response:
        ready = is_ready()
        return self.json({"ready": ready}, status=200 if ready else 503)


@app.page("/metrics")
class Metrics(View):
    async def get(self, request: Request) -> Response:
        for name, table in TABLES.items():
            metrics.table_keys.labels(name).set(estimated_size(table))
        metrics.ready.set(1 if is_ready() else 0)
        return self.bytes(
            generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )


def count_rebalance(sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any) -> None:
    metrics.rebalances.inc()


app.on_partitions_assigned.connect(count_rebalance)


_reported = {"ready": False}


@app.timer(interval=0.2)  # type: ignore[untyped-decorator]  # mode.Service.timer is untyped
async def report_readiness() -> None:
    """Log each change of readiness; the first "ready" line is what operators look for."""
    ready = is_ready()
    if ready != _reported["ready"]:
        _reported["ready"] = ready
        metrics.ready.set(1 if ready else 0)
        message = READY_LINE if ready else "switchboard worker not ready (rebalancing)"
        log.info(message, extra={"fields": {"web": str(app.conf.canonical_url)}})
