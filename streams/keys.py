"""Table keys and the partition of an organization.

A composite table key is the compact JSON array of its parts, e.g. ["2049025000431439",
"408709785","STDQ"]: any character may appear in an id without two keys colliding, and
every key of one organization starts with the same prefix, so a sorted store (RocksDB)
lists an organization's keys with one seek.

The partition of a table key is never computed from the key: Faust writes a table update
to the changelog partition of the event being processed, and the source topic is keyed
by organization. `partition_for` is the producer's partitioner (murmur2 of the key
bytes, as aiokafka and the Java client compute it); the query views and the tests use it
to find the partition, hence the worker, that holds an organization.
"""

import orjson
from aiokafka.partitioner import murmur2

# The kinds of assignment rows (streams.updates): the 4th part of their keys, so one
# asset's clientUserIds sort before its serial numbers and a page lists both in order.
CLIENT_USER, SERIAL = "clientUserId", "serialNumber"
ASSIGNMENT_KINDS = (CLIENT_USER, SERIAL)


def table_key(*parts: str) -> str:
    return orjson.dumps(parts).decode()


def assignment_key(uid: str, adam_id: str, pricing: str, kind: str, holder: str) -> str:
    """The row of one serial number or clientUserId holding one asset."""
    return table_key(uid, adam_id, pricing, kind, holder)


def key_prefix(*parts: str) -> str:
    """The common start of every key whose first parts are `parts`."""
    return table_key(*parts)[:-1] + ","


def key_parts(key: str) -> list[str]:
    parts = orjson.loads(key)
    assert isinstance(parts, list)
    return [str(part) for part in parts]


def partition_for(key: str | bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for a record with this key."""
    data = key.encode() if isinstance(key, str) else key
    return (int(murmur2(data)) & 0x7FFFFFFF) % partitions
