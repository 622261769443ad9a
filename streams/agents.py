"""The agent: each raw notification is decoded, deduped, routed and applied, or dead-lettered.

Each first-seen record ends one way, decided before anything is emitted: forwarded to its
per-type topic and applied to the tables (an asset-count baseline is applied only, see
`forwards`), or dead-lettered, never both. Its new table values are computed
(streams.updates.writes_for) before the forward, so a value that cannot be stored (an
asset count beyond 64 bits) dead-letters the record instead of following a forward that
already left. A dead-lettered record whose envelope names its
organization (streams.records.identify) is remembered like an applied one: a resend is
a duplicate and is dropped, never forwarded, never dead-lettered again.

Order inside one event, chosen for crash safety (see streams.updates and streams.dedupe):
forward (or dead-letter), then write the table values, then remember the sighting.
A crash anywhere before the offset commit replays the event: its sighting is either
absent or names this very record (REPLAY); it is forwarded or dead-lettered again only if
that topic does not hold it yet (streams.watermarks), and its table updates are skipped
where they are already applied (streams.updates), so the replay decides as the first run
did.
"""

import logging
import time
from dataclasses import replace

import faust
from faust.types import Message

from schemas import headers as h
from schemas.topics import CONFLICTS, DEAD_LETTER, topic_for
from streams import metrics, store
from streams.app import app, settings
from streams.dedupe import Deduper, Sighting, Verdict
from streams.errors import (
    CannotApplyError,
    RecordError,
    RedriveRefusedError,
    TooLargeForTopicError,
)
from streams.outputs import assigned_partitions, publish, watermarks
from streams.records import Notification, SourceRecord, decode, identify, source_record
from streams.redrive import Origin, Redrives, origin_of
from streams.tables import TABLES, seen_notifications
from streams.topics import raw_notifications_topic
from streams.updates import Read, Write, writes_for

log = logging.getLogger(__name__)
MAX_KEPT_KEY_BYTES = 1024  # a dead letter without its body keeps a key up to this size
deduper = Deduper(seen_notifications, settings.dedupe_window_s)
redrives = Redrives(deduper)  # dead letters published again (streams.redrive)


@app.agent(raw_notifications_topic)
async def route_notifications(stream: faust.StreamT[bytes]) -> None:
    """Route each raw notification once to its per-type topic and apply it to the tables.

    With direct delivery on (SWITCHBOARD_DIRECT_DELIVERY, the default) the consumer hands
    raw-notifications to the same steps from its fetch loop instead (streams.consumer),
    and this agent only holds the subscription: nothing reaches its stream."""
    consumer = app.stepping_consumer
    async for event in stream.events():
        await prepare(event.message)
        if await consumer.still_ours(event.message):  # not while cut off from the group
            process_message(event.message)
        await ship_due()


async def prepare(message: Message) -> None:
    """Before the first event of a partition: its output marks, once per assignment."""
    if message.partition not in watermarks:
        await watermarks.load({message.partition, *assigned_partitions()})


def process_message(message: Message) -> None:
    if app.stepping_consumer.processing(message):  # in offset order, once (streams.positions)
        handle(source_record(message))


async def ship_due() -> None:
    producer = app.batching_producer
    if producer.has_due():
        await producer.ship()  # full or lingering batches; backpressure from Kafka


def handle(record: SourceRecord) -> Verdict | None:
    """Process one record; never raises. None when the record went to the dead-letter topic.

    Synchronous on purpose: nothing else runs on the event loop while one event's
    records and table updates are made, so no commit can fall between them.
    """
    try:
        try:
            origin = origin_of(record)  # a redriven dead letter, or None
            n = decode(record)
        except RedriveRefusedError as exc:
            dead_letter(record, exc.reason, exc.kind)
            return None
        except RecordError as exc:
            known = identify(record)
            if known is None:  # nothing to remember it by
                dead_letter(record, exc.reason, exc.kind)
                return None
            return process(known, record, refused=exc, origin=origin)
        return process(n, record, origin=origin)
    except Exception as exc:
        log.exception("record failed", extra={"fields": _about(record)})
        dead_letter(record, f"internal-error: {type(exc).__name__}: {exc}", "internal-error")
    return None


def process(
    n: Notification,
    record: SourceRecord,
    refused: RecordError | None = None,
    origin: Origin | None = None,
) -> Verdict | None:
    """Dedupe, then settle a first-seen record; `refused` says why it cannot be applied,
    `origin` where a redriven one was first accepted."""
    if origin is None:
        verdict, first = deduper.check(n, record)
    else:
        verdict, first = redrives.check(n, record, origin)
    outcome: Verdict | None = verdict
    if verdict is Verdict.DUPLICATE:
        metrics.by_type(metrics.duplicates, n.type).inc()
        if log.isEnabledFor(logging.DEBUG):  # a resend is routine: counted, not logged
            log.debug("duplicate", extra={"fields": _fields(n, record)})
    elif verdict is Verdict.CONFLICT:
        assert first is not None
        try:
            publish(CONFLICTS, record, conflict_headers(record, first))
            metrics.by_type(metrics.conflicts, n.type).inc()
            log.warning("conflict", extra={"fields": _fields(n, record, first=first.sha256)})
        except TooLargeForTopicError as exc:  # cannot be shown as a conflict
            dead_letter(record, exc.reason, exc.kind)
            outcome = None
    elif settle(n, record, refused, origin):
        metrics.by_type(metrics.events if verdict is Verdict.NEW else metrics.replays, n.type).inc()
        metrics.lag.observe(max(time.time() - record.received_at_ms / 1000, 0))
    else:
        outcome = None  # dead-lettered
    expired = deduper.expire(record.partition, record.received_at_ms)
    if expired:
        metrics.expired.inc(expired)
    return outcome


def settle(
    n: Notification, record: SourceRecord, refused: RecordError | None, origin: Origin | None = None
) -> bool:
    """Forward and apply a first-seen record, or dead-letter it (False). Either way it is
    remembered: a resend is then a DUPLICATE, and ends as this record did. A redrive is
    ordered in the tables by its original offset and time (streams.redrive)."""
    writes: list[Write] = []
    forwarded = False
    if refused is None:
        try:
            at_ms = record.received_at_ms if origin is None else origin.received_at_ms
            first = None if origin is None else origin.offset
            writes = writes_for(n, record.offset, at_ms, _reader(record), first)
            # The first output: refused (too large) before anything of the record is queued.
            forwarded = forwards(n) and publish(topic_for(n.type), record, record.headers)
        except (CannotApplyError, TooLargeForTopicError) as exc:
            refused = exc
    if refused is None:
        if not forwarded and forwards(n):
            metrics.by_type(metrics.not_forwarded, n.type).inc()
        for write in writes:
            store.put(TABLES[write.table], record.partition, write.key, write.value, write.encoded)
    elif not dead_letter(record, refused.reason, refused.kind):
        return False  # nowhere to be seen but raw-notifications: a resend must not be dropped
    if origin is None:
        deduper.remember(n, record)
    else:
        redrives.remember(record, origin, dead=refused is not None)
    return refused is None


def forwards(n: Notification) -> bool:
    """False for an asset-count baseline: it changes the tables only. Subscribers get
    Apple's notifications; a tenant's own snapshot is not one (and they read the counts
    from the view)."""
    return n.source != h.SOURCE_BASELINE


def _reader(record: SourceRecord) -> Read:
    return lambda table, key: store.get(TABLES[table], record.partition, key)


def dead_letter(record: SourceRecord, reason: str, kind: str) -> bool:
    """Queue `record` for the dead-letter topic; False if the producer refused it.

    A record too large for it goes as its key (the organization, unless that is what is
    large), reason and source position alone, with the size of what was left out: the
    original stays in raw-notifications."""
    headers = [
        *record.headers,
        (h.DEAD_LETTER_REASON, reason[:500].encode()),
        (h.DEAD_LETTER_SOURCE, record.position.encode()),
    ]
    log.warning("dead letter", extra={"fields": _about(record, reason=reason)})
    try:
        try:
            sent = publish(DEAD_LETTER, record, headers)
        except TooLargeForTopicError:
            omitted = (
                len(record.value)
                + len(record.key or b"")
                + sum(len(k) + len(v) for k, v in record.headers)
            )
            sent = publish(
                DEAD_LETTER,
                replace(record, key=_small_key(record.key), value=b"", headers=()),
                [*headers[-2:], (h.DEAD_LETTER_OMITTED, str(omitted).encode())],
            )
    except Exception:
        # Nothing else can take the record; it stays in raw-notifications until retention.
        metrics.dead_letter_failures.inc()
        log.exception("dead letter not sent", extra={"fields": _about(record, reason=reason)})
        return False
    if sent:
        metrics.dead_letters.labels(kind).inc()
    return True


def _small_key(key: bytes | None) -> bytes | None:
    return key if key is not None and len(key) <= MAX_KEPT_KEY_BYTES else None


def conflict_headers(record: SourceRecord, first: Sighting) -> list[tuple[str, bytes]]:
    replaced = {h.CONTENT_SHA256, h.CONFLICT_FIRST_SHA256}
    return [
        *((k, v) for k, v in record.headers if k not in replaced),
        (h.CONTENT_SHA256, record.sha256.encode()),
        (h.CONFLICT_FIRST_SHA256, first.sha256.encode()),
    ]


def _fields(n: Notification, record: SourceRecord, **more: str) -> dict[str, object]:
    return _about(record, type=n.type, org=n.org, id=n.id, **more)


def _about(record: SourceRecord, **more: str) -> dict[str, object]:
    """The fields of every log line about `record`: where it is, and the gateway's request
    id and tenant from its headers, to find the request in the gateway's log."""
    return {
        "request_id": _text(record.header(h.REQUEST_ID)),
        "tenant": _text(record.header(h.TENANT)),
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        **more,
    }


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode(errors="replace")


app.stepping_consumer.without_holes(raw_notifications_topic.get_topic_name())
if settings.direct_delivery:
    app.stepping_consumer.deliver_directly(
        raw_notifications_topic.get_topic_name(), prepare, process_message, ship_due
    )
