"""The Faust app, built once from WorkerSettings (environment variables SWITCHBOARD_*).

Topics, tables, agents and views register themselves on `app` when their modules are
imported; `streams.worker.run` imports them all before starting the worker.

The web port serves our pages only (streams.views, streams.probes). Faust's own pages
are off: /table/ would serve every tenant's rows to anyone, /router/ the cluster's
topology, / and /graph/ and /stats/ its internals. They are turned off by their settings
and, for the index at / that has none, by a web driver without built-in blueprints.
@app.table_route does not need /router/: it finds the worker holding a key in the
partition assignment every worker receives from the group, and forwards the request
itself (tests/integration/test_streams_two_workers.py).
"""

from typing import cast

import faust
import faust.types.auth
from faust.web.drivers.aiohttp import Web as AiohttpWeb

from schemas.logformat import logging_config
from streams.config import WorkerSettings
from streams.consumer import SteppingConsumer
from streams.faustfence import FencedApp
from streams.producer import BatchingProducer


class OwnPagesOnly(AiohttpWeb):
    """Faust's aiohttp web driver without any of Faust's built-in pages."""

    default_blueprints = production_blueprints = debug_blueprints = optional_blueprints = ()


class SwitchboardApp(FencedApp):
    """faust.App whose producer batches records and drains them before every commit,
    whose consumer hands messages over without a task per message (streams.consumer),
    and whose web port serves only the pages registered with @app.page."""

    consumer_class = SteppingConsumer
    producer_class = BatchingProducer
    # tests/unit/streams/test_routes.py reads the routes served, so it fails if an
    # upgrade stops building app.web from this.
    web_class = OwnPagesOnly

    @property
    def batching_producer(self) -> BatchingProducer:
        return cast(BatchingProducer, self.producer)

    @property
    def stepping_consumer(self) -> SteppingConsumer:
        return cast(SteppingConsumer, self.consumer)


def broker_credentials(settings: WorkerSettings) -> faust.types.auth.CredentialsT | None:
    """The shared Kafka security settings as Faust's credentials, which Faust hands to
    every aiokafka client it creates (consumer, producer, admin). The kafka:// URL stays:
    the protocol comes from the credentials, SASL_SSL when they carry a TLS context."""
    context = settings.kafka_ssl_context()
    if settings.kafka_uses_sasl:
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_secret(),
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism.value,
        )
    return faust.SSLCredentials(context) if context is not None else None


def create_app(settings: WorkerSettings) -> SwitchboardApp:
    canonical = f"http://{settings.web_host}:{settings.web_port}"
    return SwitchboardApp(
        settings.app_id,
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=broker_credentials(settings),
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        table_standby_replicas=settings.standby_replicas,
        # At-least-once: an offset is committed after the producer flushed everything the
        # events below it produced (changelogs, per-type topics). Replays after a crash
        # are made harmless by the source offsets kept in table values (streams.updates).
        processing_guarantee="at_least_once",
        producer_acks=-1,
        # The size of the producer's batches per topic-partition (streams.producer).
        producer_max_batch_size=256 * 1024,
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 4),
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=True,
        # Faust's own pages, all off (see the module docstring).
        web_tables_enabled=False,
        web_router_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        web_bind=settings.web_bind,
        web_host=settings.web_host,
        web_port=settings.web_port,
        canonical_url=canonical,
        logging_config=logging_config(settings.log_level),
    )


settings = WorkerSettings()
app = create_app(settings)
