"""examples/consumer: a subscribing service against the real broker."""

import asyncio
import importlib.util
import json
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest

from tests.integration.streams_fixtures import create_topic, gateway_headers, lag, produce

pytestmark = [pytest.mark.kafka]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "consumer" / "consumer.py"
TOPIC = "notifications.asset-count"


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("consumer_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def count(notification_id: str, delta: int) -> bytes:
    body = {
        "notification": {"adamId": "1", "countDelta": delta, "pricingParam": "STDQ"},
        "notificationId": notification_id,
        "notificationType": "ASSET_COUNT",
        "uId": "2049025000431439",
    }
    return json.dumps(body).encode()


async def run(kafka: str, prefix: str, group: str, want: int) -> list[dict[str, Any]]:
    """Run the example until it handled `want` notifications (or 30 s passed)."""
    handled: list[dict[str, Any]] = []
    stop = asyncio.Event()

    def handle(body: dict[str, Any]) -> None:
        handled.append(body)
        if len(handled) >= want:
            stop.set()

    task = asyncio.create_task(example().consume(kafka, TOPIC, group, handle, stop, prefix))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    await task  # re-raises what stopped it
    return handled


def test_it_handles_each_notification_once_and_commits_after(kafka_bootstrap: str) -> None:
    prefix, group = f"ex{uuid.uuid4().hex[:8]}.", f"ex-{uuid.uuid4().hex[:8]}"
    asyncio.run(create_topic(kafka_bootstrap, prefix + TOPIC, 2))
    records = [
        (b"2049025000431439", count("n-1", 5), gateway_headers("apple")),
        (b"2049025000431439", count("n-1", 5), gateway_headers("apple")),  # a repeat
        (b"2049025000431439", count("n-2", -1), gateway_headers("apple")),
    ]
    asyncio.run(produce(kafka_bootstrap, prefix + TOPIC, records))
    handled = asyncio.run(run(kafka_bootstrap, prefix, group, want=2))
    assert [b["notificationId"] for b in handled] == ["n-1", "n-2"]
    assert asyncio.run(lag(kafka_bootstrap, group, prefix + TOPIC, partitions=2)) == 0


def test_a_record_breaking_the_contract_stops_it(kafka_bootstrap: str) -> None:
    prefix, group = f"ex{uuid.uuid4().hex[:8]}.", f"ex-{uuid.uuid4().hex[:8]}"
    asyncio.run(create_topic(kafka_bootstrap, prefix + TOPIC, 1))
    broken = json.loads(count("n-3", 1))
    broken["notification"]["countDelta"] = "one"
    asyncio.run(produce(kafka_bootstrap, prefix + TOPIC, [(None, json.dumps(broken).encode(), [])]))
    with pytest.raises(jsonschema.ValidationError):
        asyncio.run(run(kafka_bootstrap, prefix, group, want=1))
    assert asyncio.run(lag(kafka_bootstrap, group, prefix + TOPIC, partitions=1)) == 1
