"""The lease of group membership (streams.lease) against a real group coordinator: a
join renews it, and so does every heartbeat, so a worker in touch with the coordinator
never waits for it."""

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer

from streams.faustfence import renew_on_membership
from streams.lease import Lease
from tests.integration.streams_fixtures import create_topic

pytestmark = pytest.mark.kafka


async def test_a_join_and_the_heartbeats_after_it_renew_the_lease(
    kafka_bootstrap: str, unique_name: str
) -> None:
    await create_topic(kafka_bootstrap, unique_name, 2)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=unique_name,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        enable_auto_commit=False,
    )
    lease = Lease.for_session(6.0)
    await consumer.start()
    try:
        renew_on_membership(consumer._coordinator, lease)  # as LeasedConsumerThread does
        consumer.subscribe([unique_name])  # after start, as Faust's consumer thread does
        assert not lease.held()  # not a member yet
        async with asyncio.timeout(30):
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=200)
        # aiokafka hands over the assignment, then starts the heartbeats: the join renews.
        await asyncio.sleep(0.1)
        assert lease.held()
        ages = []
        deadline = time.monotonic() + 3.0  # six heartbeat intervals, well past the join
        while time.monotonic() < deadline:
            await consumer.getmany(timeout_ms=100)
            age = lease.age_s()
            assert age is not None
            ages.append(age)
        assert max(ages) < 1.5  # renewed by heartbeats, every 0.5 s
        assert lease.held()
    finally:
        await consumer.stop()
