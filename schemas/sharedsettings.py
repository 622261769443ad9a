"""The settings every Switchboard process shares, defined once: the Kafka cluster, the
topic prefix and the tenants file.

GatewaySettings and WorkerSettings inherit these fields (with schemas.kafkasecurity's),
so both read the same SWITCHBOARD_* variables and cannot disagree on them: in particular
the gateway publishes to raw-notifications under the same SWITCHBOARD_TOPIC_PREFIX the
workers read from. A pydantic model, not a pydantic-settings class: schemas depends on
pydantic only, and each service adds the environment source in its own config.py.
"""

from pathlib import Path

from pydantic import Field

from schemas.kafkasecurity import KafkaSecurity


class KafkaSettings(KafkaSecurity):
    """Which Kafka and which topics: what every process and command that talks to Kafka reads."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = Field(
        default="", description="Prepended to every topic name of schemas.topics."
    )

    def topic(self, name: str) -> str:
        """The cluster-wide name of a topic of schemas.topics."""
        return f"{self.topic_prefix}{name}"


class SharedSettings(KafkaSettings):
    """The fields shared by GatewaySettings and WorkerSettings (a mixin, no prefix of its own)."""

    tenants_file: Path | None = Field(
        default=None, description="YAML tenants file (schemas/tenants.py); required."
    )
