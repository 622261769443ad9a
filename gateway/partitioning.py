"""Which partition an organization's records go to: the Java client's murmur2, cached.

Same function as aiokafka's (and Kafka's) default partitioner for keyed records, so
every producer agrees on where a uId / tenantId lives; the hash of each key is cached
because keys repeat and murmur2 is pure Python in aiokafka.
"""

import functools

from aiokafka.partitioner import DefaultPartitioner, murmur2


@functools.lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def partition_for_key(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    if key is None:
        return int(DefaultPartitioner()(key, all_partitions, available))
    return all_partitions[_key_hash(key) % len(all_partitions)]
