"""`switchboard worker`: create the topics, then run the Faust worker until SIGTERM.

Topics are created before the worker starts because a Faust worker never consumes a topic
that did not exist when it subscribed. raw-notifications, the per-type topics and the
table changelogs get the same partition count (co-partitioning: a table update and the
event that caused it share a partition number); an existing topic with another count is
refused rather than silently breaking that, with one line saying which topic, which
counts and what to do. Kafka cannot take partitions away from a topic, and adding some
moves organizations to other partitions, so the fix is a deleted topic or the setting.

The data directory is created here (a fresh clone has no .dev/), and checked against the
changelogs before Faust opens it (streams.datadir).
"""

import asyncio
import logging
import ssl
import sys
import time
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError

from streams import datadir
from streams.config import WorkerSettings
from streams.errors import KafkaCredentialsError, StaleTablesError, TopicSetupError

log = logging.getLogger(__name__)
TOPIC_ALREADY_EXISTS = 36


async def check_credentials(settings: WorkerSettings, within_s: float = 10.0) -> None:
    """KafkaCredentialsError, naming the settings to check, when a bootstrap broker
    refuses the TLS handshake or the SASL login. aiokafka's clients would log the refusal
    and go on retrying as if the broker were down; one connection here tells them apart.
    An unreachable broker is left to the steps that follow."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return  # nothing to authenticate
    security = settings.aiokafka_security()
    for address in settings.kafka_bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            conn = await asyncio.wait_for(
                create_conn(host, int(port), request_timeout_ms=int(within_s * 1000), **security),
                within_s,
            )
        except (ssl.SSLError, KafkaError) as exc:
            if isinstance(exc, KafkaConnectionError):
                continue
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise KafkaCredentialsError(
                f"Kafka refused the worker's credentials at {address.strip()} "
                f"({type(exc).__name__}: {reason}); check {settings.kafka_check_hint()}"
            ) from None
        except (OSError, TimeoutError):
            continue
        conn.close()
        return


def planned_topics(settings: WorkerSettings, changelogs: list[str]) -> list[NewTopic]:
    from streams.topics import topics_to_create

    plain = [
        NewTopic(name, settings.partitions, settings.replication) for name in topics_to_create()
    ]
    compacted = [
        NewTopic(
            name,
            settings.partitions,
            settings.replication,
            topic_configs={"cleanup.policy": "compact"},
        )
        for name in changelogs
    ]
    return plain + compacted


async def ensure_topics(settings: WorkerSettings, topics: list[NewTopic]) -> None:
    """Create missing topics; idempotent, and safe when several workers start together."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, **settings.aiokafka_security()
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *message in response.topic_errors:
                if code not in (0, TOPIC_ALREADY_EXISTS):
                    raise TopicSetupError(f"cannot create topic {name}: error {code} {message}")
        described = await _describe_when_known(admin, [t.name for t in topics])
    finally:
        await admin.close()
    counts = {d["topic"]: len(d["partitions"]) for d in described}
    if any(count != settings.partitions for count in counts.values()):
        raise TopicSetupError(partition_mismatch(settings, counts))


def partition_mismatch(settings: WorkerSettings, counts: dict[str, int]) -> str:
    """What is wrong with these topics' partition counts and the two ways out, in a line."""
    wrong = {name: n for name, n in sorted(counts.items()) if n != settings.partitions}
    listed = ", ".join(f"{name} has {n}" for name, n in wrong.items())
    deletes = "; ".join(
        f"kafka-topics.sh --bootstrap-server {settings.kafka_bootstrap} --delete --topic {name}"
        for name in wrong
    )
    message = (
        f"topics with the wrong partition count: {listed}, expected {settings.partitions} "
        f"(SWITCHBOARD_PARTITIONS; every topic needs the same count). Delete them, losing "
        f"their records, and start the worker again, which creates them: {deletes}"
    )
    if len(set(counts.values())) == 1:
        (n,) = set(counts.values())
        message += f"; or keep them and set SWITCHBOARD_PARTITIONS={n} on every worker"
    return message


async def _describe_when_known(
    admin: AIOKafkaAdminClient, names: list[str], limit_s: float = 30.0
) -> list[dict[str, Any]]:
    """Describe topics, waiting while a just-created one is not yet in the metadata of
    the broker asked (it answers an error or no partitions for a short while on a
    multi-broker cluster); a topic that stays unknown is then reported with 0 partitions."""
    deadline = time.monotonic() + limit_s
    while True:
        described: list[dict[str, Any]] = await admin.describe_topics(names)
        settled = all(d["error_code"] == 0 and d["partitions"] for d in described)
        if settled or time.monotonic() > deadline:
            return described
        await asyncio.sleep(0.5)


def faust_argv(settings: WorkerSettings, argv: list[str]) -> list[str]:
    return [
        "switchboard-worker",
        "worker",
        "--loglevel",
        settings.log_level,
        "--web-host",
        settings.web_host,
        "--web-port",
        str(settings.web_port),
        *argv,
    ]


def run(argv: list[str] | None = None) -> None:
    """Start one worker; extra `argv` go to `faust worker` (e.g. --web-port 6067)."""
    import mode.loop

    # Faust reads --loop when `faust` is first imported, which has happened by now.
    mode.loop.use("uvloop")
    from streams import access, agents, probes, views  # noqa: F401 - register on the app
    from streams.app import app, settings
    from streams.tables import TABLES

    access.registry()  # a missing or broken tenants file stops the worker here, not at a query
    names = [(t.name, t.changelog_topic.get_topic_name()) for t in TABLES.values()]
    try:
        datadir.create(settings)
        asyncio.run(check_credentials(settings))
        asyncio.run(ensure_topics(settings, planned_topics(settings, [c for _, c in names])))
        asyncio.run(datadir.check_against_changelogs(settings, app.conf.tabledir, names))
    except (KafkaCredentialsError, TopicSetupError, StaleTablesError) as exc:
        sys.exit(f"switchboard worker: {exc}")
    log.info("topics ready", extra={"fields": {"prefix": settings.topic_prefix}})
    sys.argv = faust_argv(settings, list(argv or []))
    app.main()
