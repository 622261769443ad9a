"""Header names on Kafka records. Values are UTF-8 bytes.

The gateway sets them on `raw-notifications`; the stream workers carry them over to the
per-type topics and add DEAD_LETTER_REASON / conflict headers where they apply.
"""

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
DEAD_LETTER_SOURCE: Final = "dead-letter-source"  # "topic/partition/offset" of the bad record
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

SOURCE_APPLE: Final = "apple"
SOURCE_APP: Final = "app"
# An asset-count baseline (schemas.baseline), posted by a tenant; never forwarded.
SOURCE_BASELINE: Final = "baseline"
