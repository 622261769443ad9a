"""Errors of the stream workers.

    StreamsError
    ├── RecordError            a record we cannot process: it goes to the dead-letter topic
    │   ├── UnknownSourceError     no `source` header, or not "apple" / "app"
    │   ├── InvalidBodyError       the body is not a valid notification of its source
    │   ├── KeyMismatchError       the record key is not the organization of the body
    │   ├── CannotApplyError       valid, but a table value it leads to cannot be stored
    │   ├── TooLargeForTopicError  its output record would pass the topic's max.message.bytes
    │   └── RedriveRefusedError    a redrive whose original position cannot order it here
    ├── KafkaCredentialsError  the broker refused the worker's TLS or SASL credentials
    ├── TopicSetupError        the worker could not create or check its topics
    └── StaleTablesError       the data directory holds tables its changelogs do not

KafkaCredentialsError, TopicSetupError and StaleTablesError stop `switchboard worker`
before Faust starts, with their message as one line saying what to do (streams.worker,
streams.datadir).

`RecordError.reason` is the short text put in the `dead-letter-reason` header. Anything
else an agent meets while handling a record is dead-lettered as "internal-error: <type>":
the agent never raises (Faust would ack the record anyway and restart the agent).
"""


class StreamsError(Exception):
    """Base of every error raised by the streams package."""


class RecordError(StreamsError):
    """One record cannot be processed; `reason` goes to the dead-letter-reason header."""

    kind = "invalid-record"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def reason(self) -> str:
        return f"{self.kind}: {self.detail}"


class UnknownSourceError(RecordError):
    kind = "unknown-source"


class InvalidBodyError(RecordError):
    kind = "invalid-body"


class KeyMismatchError(RecordError):
    kind = "key-mismatch"


class CannotApplyError(RecordError):
    """E.g. an asset count that would leave signed 64 bits: decided before any output."""

    kind = "cannot-apply"


class TooLargeForTopicError(RecordError):
    """Kafka would refuse the output record; found before it is queued, so nothing of the
    record is written and the partition goes on (a refused batch would stop the worker)."""

    kind = "too-large"


class RedriveRefusedError(RecordError):
    """A redriven dead letter (streams.redrive) whose redrive-source header is not a
    position before it in its own partition: e.g. partitions were added and the key now
    hashes elsewhere, so its original offset cannot be compared with this partition's."""

    kind = "redrive-refused"


class TopicSetupError(StreamsError):
    """A topic has the wrong partition count, or could not be created or described."""


class StaleTablesError(StreamsError):
    """The local tables were applied past the end of their changelog: another cluster's."""


class KafkaCredentialsError(StreamsError):
    """The broker refused the TLS handshake or the SASL credentials (streams.worker)."""
