"""schemas.strictjson: numbers that overflow and repeated keys are not strict JSON.

The repeated-key check compares counts of ':' (in the text, and in the decoded keys and
strings) before it parses again the slow way; the cases and the property below hold
that shortcut to what Python's own parser says, escapes included.
"""

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.strictjson import load_json


def reason(raw: bytes | str) -> str:
    with pytest.raises(ValidationError) as caught:
        load_json(raw, "Body")
    (error,) = caught.value.errors()
    assert error["type"] == "json_invalid"
    return str(error["ctx"]["error"])


@pytest.mark.parametrize(
    "number",
    ["1e400", "-1e400", "1E+309", "2.5e0400", "1" + "0" * 250 + ".5e99", "9" * 310 + ".0"],
)
def test_a_number_that_overflows_to_infinity_is_refused(number: str) -> None:
    assert "out of range" in reason('{"a": {"b": [1, ' + number + "]}}")


@pytest.mark.parametrize(
    "text",
    [
        '{"id": "5e123-ae100", "x": 1e300, "y": -1.5e-400, "z": "1e400"}',
        '{"n": 1' + "0" * 150 + "}",
    ],
)
def test_large_finite_numbers_and_lookalike_strings_are_accepted(text: str) -> None:
    assert load_json(text, "Body") == json.loads(text)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('{"uId": "1", "uId": "2"}', "uId"),
        ('{"a": [{"x": 1}, {"x": 2, "y": {"k": 1, "k": 1}}]}', "k"),
        ('{"a": ":", "b": "\\" :", "b": 0}', "b"),
        ('{"\\u0061": 1, "a": 2}', "a"),  # the same key, spelled two ways
        ('{"uId": "a", "uId": "b", "x": "\\u003a"}', "uId"),  # an escaped ':' to even the count
        ('{"k": 1, "k": 2, "\\u003A": "\\u003a"}', "k"),
    ],
)
def test_an_object_repeating_a_key_is_refused_naming_it(text: str, key: str) -> None:
    assert f"the key {key!r} appears twice" in reason(text)
    assert f"the key {key!r} appears twice" in reason(text.encode())


@pytest.mark.parametrize(
    "text",
    [
        '{"a": null, "a": 1, "b": 1e400}',  # a null dropped, an infinity written as null
        '{"x": "null", "y": 1e400}',
        '{"x": "\\u006eull", "y": 1e400}',
        '{"k": "a:b", "k": "c", "z": "::"}',
    ],
)
def test_what_the_fast_check_counts_cannot_hide_a_repeat_or_an_infinity(text: str) -> None:
    with pytest.raises(ValidationError):
        load_json(text, "Body")


def test_the_same_key_in_different_objects_is_fine() -> None:
    text = '{"users": [{"userId": "1", "status": "a"}, {"userId": "2", "status": ":"}]}'
    assert load_json(text.encode(), "Body") == json.loads(text)


# What the fast check counts (':' and 'null'), and what could spell them otherwise.
TRICKY = st.sampled_from([":", "null", "a:null", "\nul", "\\null", "nu", "ll", "\u003a"])
KEYS = st.text(max_size=6) | TRICKY
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | TRICKY,
    lambda children: (
        st.lists(children, max_size=4) | st.lists(st.tuples(KEYS, children), max_size=4)
    ),
    max_leaves=20,
)


def render(value: Any, ascii_only: bool) -> str:
    """JSON text where a list of pairs is an object that may repeat keys."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return (
            "{"
            + ", ".join(
                f"{json.dumps(k, ensure_ascii=ascii_only)}: {render(v, ascii_only)}"
                for k, v in value
            )
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(render(v, ascii_only) for v in value) + "]"
    if isinstance(value, float) and math.isinf(value):
        return "1e400" if value > 0 else "-1e400"
    return json.dumps(value, ensure_ascii=ascii_only)


def repeats_a_key(value: Any) -> bool:
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        keys = [k for k, _ in value]
        return len(keys) != len(set(keys)) or any(repeats_a_key(v) for _, v in value)
    if isinstance(value, list):
        return any(repeats_a_key(v) for v in value)
    return False


def has_infinity(value: Any) -> bool:
    if isinstance(value, float):
        return math.isinf(value)
    if isinstance(value, tuple):
        return has_infinity(value[1])
    if isinstance(value, list):
        return any(has_infinity(v) for v in value)
    return False


@given(pairs=st.lists(st.tuples(KEYS, VALUES), max_size=5), ascii_only=st.booleans())
def test_accepted_exactly_when_strict(pairs: list[tuple[str, Any]], ascii_only: bool) -> None:
    value: Any = pairs
    text = render(value, ascii_only) if pairs else "{}"
    refused = repeats_a_key(value) or has_infinity(value)
    try:
        decoded = load_json(text.encode(), "Body")
    except ValidationError:
        assert refused, text
    else:
        assert not refused, text
        assert decoded == json.loads(text)
