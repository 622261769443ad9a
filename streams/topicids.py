"""The topic ids of the changelogs: what tells a topic from a namesake created after it.

Kafka gives every topic an id when it is created (KIP-516); a topic deleted and created
again under the same name gets a new one. Offsets cannot tell the two apart once the new
topic has grown past the old one's offsets, which is what a table rebuild leaves
(`switchboard tables rebuild` deletes the changelogs, and its replay refills them), so
streams.datadir compares ids too. aiokafka's metadata request (v5) predates topic ids:
they are read with librdkafka's admin client, with the same security settings.
"""

from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient

from streams.config import WorkerSettings
from streams.errors import TopicSetupError


def librdkafka_security(settings: WorkerSettings) -> dict[str, Any]:
    """The shared Kafka security settings (schemas.kafkasecurity) as librdkafka options."""
    options: dict[str, Any] = {"security.protocol": settings.kafka_security_protocol.value}
    if settings.kafka_uses_sasl:
        options["sasl.mechanism"] = settings.kafka_sasl_mechanism.value
        options["sasl.username"] = settings.kafka_sasl_username
        options["sasl.password"] = settings.kafka_sasl_secret()
    files = {
        "ssl.ca.location": settings.kafka_ssl_ca_file,
        "ssl.certificate.location": settings.kafka_ssl_cert_file,
        "ssl.key.location": settings.kafka_ssl_key_file,
    }
    options.update({name: str(path) for name, path in files.items() if path is not None})
    return options


def topic_ids(
    settings: WorkerSettings, names: Sequence[str], timeout_s: float = 30
) -> dict[str, str]:
    """The id of each topic in `names` (they exist: the worker has just created them)."""
    admin = AdminClient(
        {"bootstrap.servers": settings.kafka_bootstrap, **librdkafka_security(settings)}
    )
    futures = admin.describe_topics(TopicCollection(list(names)), request_timeout=timeout_s)
    try:
        return {name: str(future.result().topic_id) for name, future in futures.items()}
    except KafkaException as exc:
        raise TopicSetupError(f"cannot describe the changelog topics: {exc}") from None
