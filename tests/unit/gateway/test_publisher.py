"""gateway.publisher's own pieces, without a broker: readiness and the request deadline.

The publish path itself (acks=all, outage, recovery, partitioning) is tested against
the real broker in tests/integration/test_gateway_*.py.
"""

import asyncio
import contextlib
import json

import pytest
from confluent_kafka import KafkaError

from gateway.config import GatewaySettings
from gateway.errors import PublishError
from gateway.publisher import KafkaPublisher, _Deadlines, _Producer

NOBODY = "127.0.0.1:1"  # nothing listens there: librdkafka just keeps trying


def statistics(state: str) -> str:
    return json.dumps({"name": "p", "eos": {"idemp_state": state, "producer_id": 7}})


async def test_ready_only_once_the_idempotent_producer_has_its_id() -> None:
    """Reachable is not enough: until the id is assigned nothing can be stored, and a
    request would wait out its whole timeout (seen on fresh 3-broker clusters)."""
    publisher = KafkaPublisher(GatewaySettings(kafka_bootstrap=NOBODY))
    producer = publisher._new_producer(asyncio.get_running_loop())
    publisher._producer, publisher._reachable = producer, True
    try:
        assert not publisher.ready()
        for state, ready in [
            ("WaitPID", False),
            ("Assigned", True),
            ("DrainBump", False),  # re-acquiring after a failure: not ready meanwhile
            ("Assigned", True),
        ]:
            producer._on_statistics(statistics(state))
            assert publisher.ready() is ready, state
        producer._on_statistics("not json")  # ignored: the last state stands
        assert publisher.ready()
        publisher._reachable = False
        assert not publisher.ready()
    finally:
        await producer.close(within_s=0)


async def test_waiting_for_the_id_gives_up_in_time() -> None:
    producer = _Producer(
        {"bootstrap.servers": NOBODY, "enable.idempotence": True, "log_level": 0},
        asyncio.get_running_loop(),
        on_fatal=lambda error: None,
    )
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert not await producer.wait_for_id(within_s=0.3)
        assert loop.time() - started < 2
    finally:
        await producer.close(within_s=0)


async def test_a_request_past_its_deadline_is_answered_expired_and_others_are_not() -> None:
    loop = asyncio.get_running_loop()
    deadlines = _Deadlines(loop, timeout_s=0.2)
    answered, late = loop.create_future(), loop.create_future()
    deadlines.watch(answered)
    deadlines.watch(late)
    answered.set_result(None)  # acknowledged in time
    assert await asyncio.wait_for(late, 2) is _Deadlines.EXPIRED
    assert answered.result() is None
    await asyncio.sleep(0.15)
    assert deadlines._timer is None  # nothing left to watch: no timer running
    deadlines.close()


async def test_a_full_local_queue_is_a_fast_503_not_a_wait() -> None:
    settings = GatewaySettings(kafka_bootstrap=NOBODY, publish_timeout_s=30)
    publisher = KafkaPublisher(settings)
    loop = asyncio.get_running_loop()
    producer = _Producer(
        {"bootstrap.servers": NOBODY, "queue.buffering.max.messages": 1, "log_level": 0},
        loop,
        on_fatal=lambda error: None,
    )
    publisher._producer, publisher._reachable = producer, True
    publisher._deadlines = _Deadlines(loop, settings.publish_timeout_s)
    producer.has_id = True
    waiting = asyncio.create_task(publisher.publish("t", b"k", b"first", []))
    await asyncio.sleep(0.05)  # the first record fills the queue: nobody takes it
    started = loop.time()
    with pytest.raises(PublishError, match="queue is full"):
        await publisher.publish("t", b"k", b"second", [])
    assert loop.time() - started < 1
    waiting.cancel()
    await producer.close(within_s=0)
    publisher._deadlines.close()


async def test_a_fatal_producer_error_replaces_the_producer_at_once() -> None:
    """librdkafka's idempotence state lost: nothing more can be sent with that producer."""
    settings = GatewaySettings(kafka_bootstrap=NOBODY, health_interval_s=30)
    publisher = KafkaPublisher(settings)
    loop = asyncio.get_running_loop()
    old = publisher._new_producer(loop)
    publisher._producer, publisher._reachable, old.has_id = old, True, True
    replaced = asyncio.Event()

    async def probe_nothing() -> None:  # the probe would wait on a broker nobody runs
        if publisher._producer is not old:
            replaced.set()

    publisher._check_reachable = probe_nothing  # type: ignore[method-assign]
    watcher = asyncio.create_task(publisher._watch())
    try:
        assert publisher.ready()
        old._on_error(KafkaError(KafkaError._FATAL, "sequence lost", fatal=True))
        assert not publisher.ready()  # 503 at once, before the replacement
        await asyncio.wait_for(replaced.wait(), 5)  # not the 30 s health interval
        assert publisher._producer is not old and not publisher._broken
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        if publisher._producer is not None:
            await publisher._producer.close(within_s=0)


async def test_a_missing_raw_topic_is_not_ready_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broker answers, but raw-notifications is not there: not ready, 503 at once, one
    log line naming it; ready again as soon as a probe finds it, same producer."""
    publisher = KafkaPublisher(GatewaySettings(kafka_bootstrap=NOBODY, raw_topic="raw-x"))
    loop = asyncio.get_running_loop()
    producer = publisher._new_producer(loop)
    publisher._producer, publisher._deadlines = producer, _Deadlines(loop, 1.0)
    producer._on_statistics(statistics("Assigned"))
    found = [False]

    async def probe(topic: str, within_s: float) -> bool | None:
        assert topic == "raw-x"
        return found[0]

    producer.probe = probe  # type: ignore[method-assign]
    try:
        for _ in range(3):
            await publisher._check_reachable()
            assert not publisher.ready()
        assert publisher.not_ready_reason() == "Kafka topic raw-x does not exist yet"
        with pytest.raises(PublishError, match="raw-x does not exist"):
            await publisher.publish("raw-x", b"k", b"v", [])
        logged = [r.getMessage() for r in caplog.records if "does not exist" in r.getMessage()]
        assert len(logged) == 1 and "switchboard worker" in logged[0]
        found[0] = True
        await publisher._check_reachable()
        assert publisher.ready()
    finally:
        await producer.close(within_s=0)
        publisher._deadlines.close()


def test_the_producer_never_asks_the_broker_to_create_a_topic() -> None:
    publisher = KafkaPublisher(GatewaySettings(kafka_bootstrap=NOBODY))
    config: dict[str, object] = {}

    class Capture:
        def __init__(self, given: dict[str, object], *_: object, **__: object) -> None:
            config.update(given)

    loop = asyncio.new_event_loop()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("gateway.publisher._Producer", Capture)
        publisher._new_producer(loop)
    loop.close()
    assert config["allow.auto.create.topics"] is False
