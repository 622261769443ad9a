"""Composite table keys, and the partition of an organization."""

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.keys import key_parts, key_prefix, partition_for, table_key

ids = st.text(min_size=1, max_size=20)


@given(st.lists(ids, min_size=1, max_size=4))
def test_a_key_gives_back_its_parts(parts: list[str]) -> None:
    assert key_parts(table_key(*parts)) == parts


@given(ids, ids, ids)
def test_an_organization_prefix_matches_only_its_own_keys(org: str, other: str, rest: str) -> None:
    assert table_key(org, rest).startswith(key_prefix(org))
    if other != org:
        assert not table_key(other, rest).startswith(key_prefix(org))


def test_ids_with_separators_and_quotes_do_not_collide() -> None:
    assert table_key("1|2", "3") != table_key("1", "2|3")
    assert table_key('a","b') != table_key("a", "b")
    assert not table_key("12", "x").startswith(key_prefix("1"))


@given(st.binary(min_size=1, max_size=40), st.integers(min_value=1, max_value=64))
def test_partition_for_is_the_producers_default_partitioner(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert partition_for(key, count) == DefaultPartitioner()(key, partitions, partitions)


def test_partition_for_hashes_the_utf8_bytes_of_a_str() -> None:
    assert partition_for("2049025000431439", 8) == partition_for(b"2049025000431439", 8)
