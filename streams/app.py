"""The Faust app, built once from WorkerSettings (environment variables SWITCHBOARD_*).

Topics, tables, agents and views register themselves on `app` when their modules are
imported; `streams.worker.run` imports them all before starting the worker.
"""

from typing import cast

import faust
from faust.types import ProducerT

from streams.config import WorkerSettings
from streams.logs import logging_config
from streams.producer import BatchingProducer


class SwitchboardApp(faust.App):
    """faust.App whose producer batches records and drains them before every commit."""

    def _new_producer(self) -> ProducerT:
        return BatchingProducer(self.transport, loop=self.loop, beacon=self.beacon)

    @property
    def batching_producer(self) -> BatchingProducer:
        return cast(BatchingProducer, self.producer)


def create_app(settings: WorkerSettings) -> SwitchboardApp:
    canonical = f"http://{settings.web_host}:{settings.web_port}"
    return SwitchboardApp(
        settings.app_id,
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
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
        web_bind=settings.web_bind,
        web_host=settings.web_host,
        web_port=settings.web_port,
        canonical_url=canonical,
        logging_config=logging_config(settings.log_level),
    )


settings = WorkerSettings()
app = create_app(settings)
