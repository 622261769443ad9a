"""The stream worker's settings: one pydantic-settings class, read from SWITCHBOARD_* variables."""

import ssl
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.sharedsettings import SharedSettings


class WorkerSettings(SharedSettings, BaseSettings):
    """Every knob of a stream worker. Senders' secrets live in the tenants file; the Kafka
    cluster, its credentials, the topic prefix and the tenants file are the fields shared
    with the gateway (schemas.sharedsettings)."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore", frozen=True)

    app_id: str = Field(default="switchboard", min_length=1, description="Consumer group id.")
    # raw-notifications, the per-type topics and every changelog share this count, so the
    # partition of an organization is the same everywhere (co-partitioning). Changing it
    # on a live cluster moves organizations between partitions: a migration, not a knob.
    partitions: int = Field(default=8, ge=1)
    replication: int = Field(default=1, ge=1, description="Replication factor of new topics.")
    dedupe_window_s: float = Field(default=3600.0, gt=0)
    data_dir: Path = Path(".dev/streams")
    store: str = Field(default="rocksdb://", description="memory:// only in unit tests.")
    web_bind: str = "127.0.0.1"
    web_host: str = Field(default="127.0.0.1", description="Host other workers forward to.")
    web_port: int = Field(default=6066, ge=1, le=65535)
    commit_interval_s: float = Field(default=1.0, gt=0)
    # How long a worker killed without a goodbye keeps its partitions before the group
    # moves them to the others (Kafka group session timeout; the broker's minimum is 6 s).
    session_timeout_s: float = Field(default=30.0, ge=6)
    standby_replicas: int = Field(default=1, ge=0)
    # Faust opens one RocksDB per table partition with 3 memtables of 64 MiB and a 2 GiB
    # block cache each, so a worker's memory would grow with its partitions and tables.
    # Bounded here: each DB holds at most 2 memtables plus its block cache.
    rocksdb_write_buffer_mib: int = Field(default=8, ge=1, le=1024)
    rocksdb_block_cache_mib: int = Field(default=8, ge=1, le=4096)
    # The max.message.bytes of the topics the worker writes (Kafka's default). An output
    # record that would pass it is dead-lettered before it is queued: a batch the broker
    # refuses would stop the worker, and every restart would meet the same record again.
    kafka_max_message_bytes: int = Field(default=1_048_588, ge=64 * 1024)
    log_level: str = "info"
    # Set by `switchboard tables rebuild` for the worker it runs, never by hand: per
    # raw-notifications partition, the worker group's committed offset before the rebuild.
    # Every record below it was forwarded already, so the replay forwards none of them even
    # where an output partition's retention has since emptied it (no tail to read a mark
    # from, streams.watermarks). Empty for a normal worker.
    rebuild_forwarded_below: dict[int, int] = {}
    # raw-notifications processed from the consumer's fetch loop (streams.consumer), not
    # through Faust's stream: same order, acks and commits, ~40 % less CPU per event.
    # False: through Faust's stream and the agent, as Faust does it (same guarantees).
    direct_delivery: bool = True

    def rocksdb_options(self) -> dict[str, int]:
        """Options for one table's RocksDB (a new dict each time: Faust pops from it)."""
        mib = 1024 * 1024
        return {
            "write_buffer_size": self.rocksdb_write_buffer_mib * mib,
            "max_write_buffer_number": 2,
            "block_cache_size": self.rocksdb_block_cache_mib * mib,
        }

    def kafka_ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of every aiokafka client (Faust's and ours), None without TLS:
        the broker is verified against kafka_ssl_ca_file (or the system's CAs), host name
        included; the client certificate is presented when set (mTLS)."""
        if not self.kafka_uses_tls:
            return None
        ca = str(self.kafka_ssl_ca_file) if self.kafka_ssl_ca_file else None
        context = ssl.create_default_context(cafile=ca)
        if self.kafka_ssl_cert_file is not None and self.kafka_ssl_key_file is not None:
            context.load_cert_chain(self.kafka_ssl_cert_file, self.kafka_ssl_key_file)
        return context

    def aiokafka_security(self) -> dict[str, Any]:
        """The shared Kafka security settings (schemas.kafkasecurity) as the keyword
        arguments of aiokafka's clients (the admin client, the watermarks' consumer)."""
        options: dict[str, Any] = {"security_protocol": self.kafka_security_protocol.value}
        if self.kafka_uses_tls:
            options["ssl_context"] = self.kafka_ssl_context()
        if self.kafka_uses_sasl:
            options["sasl_mechanism"] = self.kafka_sasl_mechanism.value
            options["sasl_plain_username"] = self.kafka_sasl_username
            options["sasl_plain_password"] = self.kafka_sasl_secret()
        return options
