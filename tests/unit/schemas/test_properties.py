"""Property tests: parse_apple and parse_app fail only with ValidationError, and round-trip.

The gateway turns a ValidationError into a 4xx answer and a stream worker into a
dead-letter record; any other exception would be a 500 or a crashed agent instead.
"""

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.app import parse_app
from schemas.apple import ENVELOPE_BY_TYPE, parse_apple
from tests.examples import example, example_names

Parser = Callable[[bytes | str], Any]
PARSERS = pytest.mark.parametrize("parse", [parse_apple, parse_app], ids=["apple", "app"])

KNOWN_EXAMPLES = [
    name for name in example_names() if name not in {"apple_envelope", "app_jwt_payload"}
]
TYPES = st.sampled_from([*ENVELOPE_BY_TYPE, "TENANT_REST_URL_CHANGE", "UNLIMITED_ASSET"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | TYPES
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
JSON_OBJECTS = st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=6)


def parses_or_validation_error(parse: Parser, raw: bytes | str) -> None:
    with contextlib.suppress(ValidationError):
        parse(raw)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a decoded JSON document."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        children: list[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value))
    else:
        children = []
    for key, item in children:
        found += paths(item, (*prefix, key))
    return found


@PARSERS
@given(body=JSON_OBJECTS)
def test_any_json_object(parse: Parser, body: dict[str, Any]) -> None:
    parses_or_validation_error(parse, json.dumps(body))


@PARSERS
@given(
    body=st.fixed_dictionaries(
        {"notificationId": JSON_VALUES, "notificationType": TYPES, "uId": JSON_VALUES},
        optional={"notification": JSON_OBJECTS, "eventId": JSON_VALUES, "data": JSON_OBJECTS},
    )
)
def test_envelope_shaped_objects(parse: Parser, body: dict[str, Any]) -> None:
    parses_or_validation_error(parse, json.dumps(body).encode())


@PARSERS
@given(data=st.data(), name=st.sampled_from(KNOWN_EXAMPLES))
def test_documented_examples_with_one_value_replaced_or_removed(
    parse: Parser, data: st.DataObject, name: str
) -> None:
    body = example(name)
    path = data.draw(st.sampled_from(paths(body)))
    parent: Any = body
    for step in path[:-1]:
        parent = parent[step]
    if data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON_VALUES)
    parses_or_validation_error(parse, json.dumps(body))


@PARSERS
@given(raw=st.binary() | st.text(st.characters(exclude_categories=())))
def test_any_bytes_or_text(parse: Parser, raw: bytes | str) -> None:
    parses_or_validation_error(parse, raw)


@PARSERS
@settings(deadline=None)
@given(depth=st.integers(1, 3000), opener=st.sampled_from(["[", '{"a":']))
def test_any_nesting_depth(parse: Parser, depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    inner = opener * depth + "1" + closer * depth
    parses_or_validation_error(parse, '{"notification": ' + inner + "}")


@PARSERS
@given(digits=st.integers(1, 6000))
def test_any_integer_size(parse: Parser, digits: int) -> None:
    parses_or_validation_error(parse, '{"notificationId": ' + "9" * digits + "}")


@given(data=st.data(), name=st.sampled_from(KNOWN_EXAMPLES))
def test_known_notifications_round_trip_with_added_fields(data: st.DataObject, name: str) -> None:
    body = example(name)
    inner = body.get("notification", body.get("data"))
    assert isinstance(inner, dict)
    # A prefix keeps added names clear of the models' own optional fields (error, eventId...).
    keys = st.text(max_size=12).map(lambda key: f"added-{key}")
    for target in (body, inner):
        target.update(data.draw(st.dictionaries(keys, JSON_VALUES, max_size=3)))
    parse: Parser = parse_app if name.startswith("app_") else parse_apple
    parsed = parse(json.dumps(body))
    again = parse(parsed.model_dump_json())
    assert type(again) is type(parsed)
    assert again == parsed
