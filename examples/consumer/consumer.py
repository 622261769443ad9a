"""A service subscribing to one of Switchboard's per-type topics, the way we recommend.

    python examples/consumer/consumer.py --bootstrap 127.0.0.1:9092 \\
        --topic notifications.asset-count --group my-service

- One consumer group per service: Kafka spreads the partitions over its instances, and one
  organization (the record key) is always in one partition, in order.
- Offsets are committed by hand after each batch is processed: a crash replays the batch,
  never skips it (at-least-once).
- Dedupe by notificationId (eventId for app notifications): replays after a crash, and the
  rare repeat the README names, are then harmless. Keep this set in your own store.
- Validate against the topic's JSON Schema (schemas/jsonschema/): it is the contract.
"""

import argparse
import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
from aiokafka import AIOKafkaConsumer

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "jsonschema"


async def consume(
    bootstrap: str,
    topic: str,
    group: str,
    handle: Callable[[dict[str, Any]], None],
    stop: asyncio.Event,
    prefix: str = "",  # SWITCHBOARD_TOPIC_PREFIX, if the deployment sets one
) -> None:
    schema = json.loads((SCHEMAS / f"{topic}.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    seen: set[str] = set()  # in production: a table with an expiry longer than the window
    consumer = AIOKafkaConsumer(
        prefix + topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    body = json.loads(record.value)
                    validator.validate(body)  # a broken contract stops us loudly
                    key = body.get("notificationId") or body["eventId"]
                    if key not in seen:
                        seen.add(key)
                        handle(body)
            if batches:
                await consumer.commit()  # only after every record above was handled
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="notifications.asset-count")
    parser.add_argument("--group", default="example-consumer")
    parser.add_argument("--prefix", default="")
    args = parser.parse_args()
    stop = asyncio.Event()
    asyncio.run(consume(args.bootstrap, args.topic, args.group, print, stop, args.prefix))


if __name__ == "__main__":
    main()
