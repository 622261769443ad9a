"""The AsyncAPI 3 document of every topic Switchboard writes, built from the contracts here.

Channels are the topics of schemas.topics; message payloads are the JSON Schema files of
schemas/jsonschema/ (referenced, not copied, so there is one schema per topic); headers
are those of schemas.headers. `python -m schemas.generate` writes it to
schemas/asyncapi.yaml next to the JSON Schemas, and a test fails when it drifts.
"""

from typing import Any, Final

from pydantic import TypeAdapter

from schemas import headers as h
from schemas import topics
from schemas.baseline import AssetBaseline

GATEWAY_HEADERS: Final = {
    h.TENANT: "The tenant that sent it (its id in the tenants file).",
    h.SOURCE: f"`{h.SOURCE_APPLE}` (Apple Apps and Books), `{h.SOURCE_APP}` (app sender) or "
    f"`{h.SOURCE_BASELINE}` (a tenant's asset-count baseline, never on a per-type topic).",
    h.RECEIVED_AT: "When the gateway received it: epoch milliseconds, decimal.",
    h.CONTENT_SHA256: "Hex sha256 of the record value.",
    h.REQUEST_ID: "The gateway's request id (also in its logs and the 202 answer).",
    h.TRACEPARENT: "The sender's W3C Trace Context traceparent "
    "(version-traceid-parentid-flags), when its request carried a valid one; absent "
    "otherwise. The workers keep it on every record they write.",
}
WORKER_HEADERS: Final = {
    h.SOURCE_OFFSET: "Offset of the source record in its raw-notifications partition "
    "(the same partition number): orders records and identifies a replay.",
}
REDRIVE_HEADERS: Final = {
    h.REDRIVE_SOURCE: "Only on a redriven dead letter (switchboard dead-letters redrive): "
    "`<topic>/<partition>/<offset>` of the original record in raw-notifications, whose "
    "offset orders it in the tables; received-at is then the time of the redrive.",
    h.REDRIVE_RECEIVED_AT: "Only on a redriven dead letter: the original's received-at.",
}
DEAD_LETTER_HEADERS: Final = {
    h.DEAD_LETTER_REASON: "`<kind>: <detail>`, kind one of " + ", ".join(h.DEAD_LETTER_KINDS) + ".",
    h.DEAD_LETTER_SOURCE: "`<topic>/<partition>/<offset>` of the original record.",
    h.DEAD_LETTER_OMITTED: "Present when the original did not fit: the bytes left out "
    "(the value is then empty); read the original at dead-letter-source.",
}
CONFLICT_HEADERS: Final = {
    h.CONFLICT_FIRST_SHA256: "Hex sha256 of the first record seen with this id.",
}

ORDERING: Final = (
    "Keyed by the organization (uId, or tenantId for app notifications): one organization's "
    "records are in one partition, in the order the gateway accepted them. Partition counts "
    "are equal on every topic (co-partitioned with raw-notifications)."
)
DELIVERY: Final = (
    "Exactly once per accepted notification, across worker crashes and rebalances, with one "
    "exception: a worker cut off from its group but still alive (a long GC pause, a network "
    "partition) may write its last records again, byte-identical. Consumers that must never "
    "see a repeat dedupe by notificationId (Apple) or eventId (app)."
)
CHANNELS: Final = {
    topics.RAW_NOTIFICATIONS: (
        "Every accepted notification, the sender's body byte for byte, written by the gateway "
        "after acks=all before its 202, and the dead letters an operator redrives. Read by "
        "the stream workers only.",
        GATEWAY_HEADERS | REDRIVE_HEADERS,
    ),
    **{
        topic: (
            "First-seen notifications of this type, byte for byte as sent, routed by the "
            "stream workers.",
            GATEWAY_HEADERS | REDRIVE_HEADERS | WORKER_HEADERS,
        )
        for topic in topics.PER_TYPE_TOPICS
    },
    topics.DEAD_LETTER: (
        "Records the workers could not decode or apply, with the reason. Never also on a "
        "per-type topic.",
        GATEWAY_HEADERS | REDRIVE_HEADERS | WORKER_HEADERS | DEAD_LETTER_HEADERS,
    ),
    topics.CONFLICTS: (
        "A notification id seen again with other content: the later record, with both hashes.",
        GATEWAY_HEADERS | REDRIVE_HEADERS | WORKER_HEADERS | CONFLICT_HEADERS,
    ),
}


def document(schema_file: dict[str, str]) -> dict[str, Any]:
    """The document; `schema_file` maps a per-type topic to its JSON Schema file name."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic, (description, headers) in CHANNELS.items():
        name = _name(topic)
        messages[name] = _message(topic, headers, schema_file)
        channels[name] = {
            "address": topic,
            "description": f"{description} {ORDERING}",
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"send-{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "description": "Gateway." if topic == topics.RAW_NOTIFICATIONS else DELIVERY,
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Switchboard topics",
            "version": "1.0.0",
            "description": "The Kafka topics Switchboard writes. Generated by "
            "python -m schemas.generate from schemas/topics.py, schemas/headers.py and the "
            "models; do not edit.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": _baseline_schemas()},
    }


def _message(topic: str, headers: dict[str, str], schema_file: dict[str, str]) -> dict[str, Any]:
    if topic in schema_file:
        payload: dict[str, Any] = {"$ref": f"./jsonschema/{schema_file[topic]}"}
    elif topic == topics.DEAD_LETTER:
        payload = {"description": "The original record's value, as it was (maybe not JSON)."}
    else:  # raw-notifications and conflicts carry any accepted notification, and baselines
        refs = [{"$ref": f"./jsonschema/{schema_file[t]}"} for t in topics.PER_TYPE_TOPICS]
        payload = {"anyOf": [*refs, {"$ref": BASELINE_REF}]}
    return {
        "name": _name(topic),
        "payload": payload,
        "headers": {
            "type": "object",
            "properties": {
                name: {"type": "string", "description": text} for name, text in headers.items()
            },
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": "The organization: uId, or tenantId for app notifications.",
                },
                "bindingVersion": "0.5.0",
            }
        },
    }


BASELINE_REF: Final = "#/components/schemas/AssetBaseline"


def _baseline_schemas() -> dict[str, Any]:
    """The asset-count baseline (schemas.baseline), the one record of raw-notifications that
    no per-type topic carries, so it has no schema file of its own."""
    schema = TypeAdapter(AssetBaseline).json_schema(ref_template="#/components/schemas/{model}")
    defs: dict[str, Any] = schema.pop("$defs", {})
    return {**defs, "AssetBaseline": schema}


def _name(topic: str) -> str:
    return topic.replace(".", "-")
