"""The sender's W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/),
kept in the record's headers so a trace can follow the notification through Kafka.

The gateway starts no span of its own: the header is kept as the sender sent it, or not
at all. One that does not parse is ignored, never refused, as the specification asks
of a receiver: it answers as if there were none.
"""

import re

# version-traceid-parentid-flags, lowercase hex
_TRACEPARENT = re.compile(rb"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
_LENGTH = 55
_ZERO_TRACE_ID, _ZERO_PARENT_ID = b"0" * 32, b"0" * 16


def valid_traceparent(value: bytes | None) -> bytes | None:
    """`value` if it is a valid traceparent (a later version: its version-00 fields), else None."""
    if value is None:
        return None
    match = _TRACEPARENT.match(value)
    if match is None:
        return None
    version, trace_id, parent_id = match.groups()
    if version == b"ff" or trace_id == _ZERO_TRACE_ID or parent_id == _ZERO_PARENT_ID:
        return None
    if version == b"00":
        return value if len(value) == _LENGTH else None
    # A later version may append fields after a dash; only the ones known here are kept.
    if len(value) > _LENGTH and value[_LENGTH : _LENGTH + 1] != b"-":
        return None
    return value[:_LENGTH]
