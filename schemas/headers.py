"""Header names on Kafka records. Values are UTF-8 bytes.

The gateway sets them on `raw-notifications`; the stream workers carry them over to the
per-type topics and add DEAD_LETTER_REASON / conflict headers where they apply.
"""

import re
from typing import Final

TENANT: Final = "tenant"
SOURCE: Final = "source"  # one of SOURCE_APPLE, SOURCE_APP, SOURCE_BASELINE
RECEIVED_AT: Final = "received-at"  # gateway receive time, epoch milliseconds
CONTENT_SHA256: Final = "content-sha256"  # hex sha256 of the record value
REQUEST_ID: Final = "request-id"
# The sender's W3C Trace Context traceparent, when it sent a valid one; absent otherwise.
TRACEPARENT: Final = "traceparent"

# Set by the stream workers on every record they write: the offset of the source record in
# its raw-notifications partition (same partition number). Lets a restarted worker see
# what its outputs already hold (streams.watermarks); consumers may use it to order too.
SOURCE_OFFSET: Final = "source-offset"
DEAD_LETTER_REASON: Final = "dead-letter-reason"
DEAD_LETTER_SOURCE: Final = "dead-letter-source"  # position() of the bad record
# On a dead letter whose original value (and headers) would not fit the topic: their size
# in bytes. The record is then only the reason and the source position: read the original
# from raw-notifications there.
DEAD_LETTER_OMITTED: Final = "dead-letter-omitted-bytes"
CONFLICT_FIRST_SHA256: Final = "conflict-first-sha256"
# The kinds a DEAD_LETTER_REASON starts with ("<kind>: <detail>"), streams.errors.
DEAD_LETTER_KINDS: Final = (
    "invalid-body",
    "key-mismatch",
    "unknown-source",
    "cannot-apply",
    "too-large",
    "internal-error",
    "redrive-refused",
)

# Set by `switchboard dead-letters redrive` on a dead letter's original that it publishes
# to raw-notifications again: where the original was ("topic/partition/offset"; the first
# original when a redrive was dead-lettered again) and its received-at. RECEIVED_AT is the
# redrive's own time. The tables order a redrive by its original offset (streams.redrive).
REDRIVE_SOURCE: Final = "redrive-source"
REDRIVE_RECEIVED_AT: Final = "redrive-received-at"

# The value of DEAD_LETTER_SOURCE and REDRIVE_SOURCE. A Kafka topic name has no "/";
# the topic is read as all before the last two.
_POSITION = re.compile(r"(.+)/(-?[0-9]+)/(-?[0-9]+)", re.ASCII)


def position(topic: str, partition: int, offset: int) -> str:
    """A record's position, "topic/partition/offset"."""
    return f"{topic}/{partition}/{offset}"


def parse_position(text: str) -> tuple[str, int, int]:
    """(topic, partition, offset) of a position(); ValueError saying why when `text` is
    not one (only ASCII digits, no sign, space or "_": what position() writes)."""
    found = _POSITION.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not topic/partition/offset")
    topic, partition, offset = found.group(1), int(found.group(2)), int(found.group(3))
    if partition < 0 or offset < 0:
        raise ValueError(f"{text!r} is not topic/partition/offset: a negative number")
    return topic, partition, offset


SOURCE_APPLE: Final = "apple"
SOURCE_APP: Final = "app"
# An asset-count baseline (schemas.baseline), posted by a tenant; never forwarded.
SOURCE_BASELINE: Final = "baseline"
