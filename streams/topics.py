"""The topics the worker reads and writes; names come from schemas.topics, plus the prefix.

What it writes to them, and only once, is streams.outputs.
"""

from schemas import topics as names
from streams.app import app, settings

raw_notifications_topic = app.topic(
    settings.topic(names.RAW_NOTIFICATIONS),
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=settings.partitions,
)


def topics_to_create() -> list[str]:
    """Every topic of schemas.topics, prefixed; the worker creates them before it starts."""
    return [settings.topic(name) for name in names.ALL_TOPICS]
