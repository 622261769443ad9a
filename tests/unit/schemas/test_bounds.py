"""Every integer of the notification models is bounded to signed 64 bits, every string in length."""

import inspect
import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas import app, apple
from schemas.apple import parse_apple
from schemas.bounds import ID_MAX_CHARS, INT64_MAX, INT64_MIN, TEXT_MAX_CHARS
from tests.examples import example

OUT_OF_RANGE = [2**63, -(2**63) - 1, -(2**64), 10**30, -(10**30)]


def models() -> list[type[BaseModel]]:
    found = [
        value
        for module in (apple, app)
        for _, value in inspect.getmembers(module, inspect.isclass)
        if issubclass(value, BaseModel) and value.__module__ == module.__name__
    ]
    assert len(found) > 10
    return found


def typed_schemas(schema: Any, kind: str, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        if schema.get("type") == kind:
            yield path, schema
        for key, value in schema.items():
            yield from typed_schemas(value, kind, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from typed_schemas(value, kind, f"{path}/{index}")


def integer_schemas(schema: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    return typed_schemas(schema, "integer")


def test_every_integer_in_every_model_schema_is_bounded() -> None:
    """A field added later as a plain `int` fails here: it must be schemas.bounds.Int64."""
    integers = {
        f"{model.__name__}{path}": (schema.get("minimum"), schema.get("maximum"))
        for model in models()
        for path, schema in integer_schemas(model.model_json_schema())
    }
    assert "AssetCountEnvelope/$defs/AssetCountNotification/properties/countDelta" in integers
    unbounded = [name for name, bounds in integers.items() if bounds != (INT64_MIN, INT64_MAX)]
    assert unbounded == []


def countdelta_body(delta: int) -> str:
    body = example("apple_asset_count")
    body["notification"]["countDelta"] = delta
    return json.dumps(body)


def error_locs(parse: Any, raw: str) -> list[tuple[int | str, ...]]:
    with pytest.raises(ValidationError) as caught:
        parse(raw)
    return [error["loc"] for error in caught.value.errors()]


@pytest.mark.parametrize("delta", OUT_OF_RANGE)
def test_a_countdelta_beyond_64_bits_is_refused_naming_the_field(delta: int) -> None:
    assert error_locs(parse_apple, countdelta_body(delta)) == [("notification", "countDelta")]


@pytest.mark.parametrize(
    ("inside", "outside"), [(INT64_MAX, INT64_MAX + 1), (INT64_MIN, INT64_MIN - 1)]
)
def test_the_countdelta_bounds_are_exactly_signed_64_bits(inside: int, outside: int) -> None:
    parsed = parse_apple(countdelta_body(inside))
    assert isinstance(parsed, apple.AssetCountEnvelope)
    assert parsed.notification.countDelta == inside
    assert error_locs(parse_apple, countdelta_body(outside)) == [("notification", "countDelta")]


@pytest.mark.parametrize(
    "name", ["apple_asset_management_associate", "apple_user_management_create"]
)
@pytest.mark.parametrize("number", OUT_OF_RANGE)
def test_an_error_number_beyond_64_bits_is_refused_naming_the_field(name: str, number: int) -> None:
    body = example(name)
    body["notification"].update(result="FAILURE", error={"errorNumber": number})
    locs = error_locs(parse_apple, json.dumps(body))
    assert locs and all(loc[:3] == ("notification", "error", "errorNumber") for loc in locs)
    body["notification"]["error"]["errorNumber"] = INT64_MAX
    parsed = parse_apple(json.dumps(body))
    assert isinstance(parsed.notification, apple.ResultMixin)
    assert parsed.notification.error is not None
    assert parsed.notification.error.errorNumber == INT64_MAX


def test_every_string_in_every_notification_model_is_bounded() -> None:
    """A string a model names may end up in a table row: bounded, so every row is."""
    strings = {
        f"{model.__name__}{path}": schema.get("maxLength")
        for model in models()
        for path, schema in typed_schemas(model.model_json_schema(), "string")
        # a Literal is bounded by itself; Assignment's anyOf only says which field is required
        if "const" not in schema
        and "enum" not in schema
        and "Assignment/anyOf" not in f"{model.__name__}{path}"
    }
    assert "AssetManagementEnvelope/$defs/Assignment/properties/serialNumber/anyOf/0" in strings
    unbounded = [
        name for name, most in strings.items() if most not in (ID_MAX_CHARS, TEXT_MAX_CHARS)
    ]
    assert unbounded == [], unbounded


@pytest.mark.parametrize(
    ("field", "longest"),
    [(("uId",), ID_MAX_CHARS), (("notification", "adamId"), ID_MAX_CHARS)],
)
def test_a_string_over_its_bound_is_refused_naming_the_field(
    field: tuple[str, ...], longest: int
) -> None:
    body = example("apple_asset_count")
    target = body
    for name in field[:-1]:
        target = target[name]
    target[field[-1]] = "9" * longest
    assert isinstance(parse_apple(json.dumps(body)), apple.AssetCountEnvelope)
    target[field[-1]] = "9" * (longest + 1)
    assert error_locs(parse_apple, json.dumps(body)) == [field]
