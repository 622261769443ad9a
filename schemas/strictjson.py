"""Decoding a notification body as strict JSON (RFC 8259), failing only with ValidationError.

pydantic's own JSON parser accepts NaN and Infinity, and a number such as 1e400 becomes
inf. Neither is JSON: a record carrying them would break consumers of the per-type
topics that parse strictly, and would not match the published JSON Schema. So the
body is decoded here first and the models then validate the decoded value.

Every way the body can fail to be JSON (not UTF-8, lone surrogates, nesting deeper than
the parser's limit of about 200 levels, an integer of more than 4300 digits, NaN)
becomes a pydantic.ValidationError of type "json_invalid", so callers catch one thing.
"""

import math
import re
from typing import Any

import pydantic_core
from pydantic import ValidationError

# Only a number with an exponent, or of more than 308 digits, can overflow a float to inf.
# Bodies without one (nearly all) skip the walk over every value.
_MAY_OVERFLOW_BYTES = re.compile(rb"\d[eE]|\d{309}")
_MAY_OVERFLOW_STR = re.compile(r"\d[eE]|\d{309}")


def load_json(raw: bytes | str, title: str) -> Any:
    """The decoded JSON value of `raw`; `title` names the model in the error message."""
    try:
        value = pydantic_core.from_json(raw, allow_inf_nan=False)
    # ValueError: not JSON, not UTF-8, too deep, number out of range.
    # TypeError: pydantic-core refuses a str holding lone surrogates this way.
    except (ValueError, TypeError) as exc:
        raise invalid_json(title, raw, str(exc)) from None
    pattern = _MAY_OVERFLOW_BYTES if isinstance(raw, bytes) else _MAY_OVERFLOW_STR
    if pattern.search(raw) and not _finite(value):  # type: ignore[arg-type]
        raise invalid_json(title, raw, "number out of range (overflows to infinity)")
    return value


def invalid_json(title: str, raw: bytes | str, reason: str) -> ValidationError:
    return ValidationError.from_exception_data(
        title,
        [{"type": "json_invalid", "loc": (), "input": raw, "ctx": {"error": reason}}],
    )


def _finite(value: Any) -> bool:
    # Recursion is bounded: the parser has already refused anything nested ~200 deep.
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    return True
