"""The position format of dead-letter-source and redrive-source: one builder, one parser."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.headers import parse_position, position

# Kafka topic names: letters, digits, ".", "_", "-" (no "/").
TOPICS = st.text(st.sampled_from("abcXYZ019._-"), min_size=1, max_size=40)
NUMBERS = st.integers(min_value=0, max_value=2**63 - 1)


@given(topic=TOPICS, partition=NUMBERS, offset=NUMBERS)
def test_a_position_reads_back_as_it_was_written(topic: str, partition: int, offset: int) -> None:
    assert parse_position(position(topic, partition, offset)) == (topic, partition, offset)


def test_the_topic_is_all_before_the_last_two_slashes() -> None:
    assert position("it1.raw-notifications", 3, 42) == "it1.raw-notifications/3/42"
    assert parse_position("a/b/3/42") == ("a/b", 3, 42)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nonsense",
        "raw/1",
        "/1/2",  # no topic
        "raw/x/1",
        "raw/1/x",
        "raw/1/",
        "raw/+1/2",  # int() would take these; position() never writes them
        "raw/ 1/2",
        "raw/1/2 ",
        "raw/1_0/2",
        "raw/\u0663/2",  # an Arabic-Indic digit: str.isdigit() says yes
        "raw/\u00b2/2",  # a superscript two: isdigit() says yes, int() refuses
    ],
)
def test_what_is_not_a_position_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not topic/partition/offset$"):
        parse_position(text)


@pytest.mark.parametrize("text", ["raw/-1/2", "raw/1/-2", "raw/-1/-2"])
def test_a_negative_partition_or_offset_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not topic/partition/offset: a negative number"):
        parse_position(text)
