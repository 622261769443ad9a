"""Decoding a notification body as strict JSON (RFC 8259), failing only with ValidationError.

pydantic's own JSON parser accepts NaN and Infinity, and a number such as 1e400 becomes
inf. Neither is JSON: a record carrying them would break consumers of the per-type
topics that parse strictly, and would not match the published JSON Schema. So the
body is decoded here first and the models then validate the decoded value.

An object naming a key twice is refused too: RFC 8259 leaves its meaning open, parsers
disagree on which value wins, so the uId the gateway checks could differ from the one a
consumer reads.

Every way the body can fail to be JSON (not UTF-8, lone surrogates, nesting deeper than
the parser's limit of about 200 levels, an integer of more than 4300 digits, NaN, a
repeated key) becomes a pydantic.ValidationError of type "json_invalid", so callers
catch one thing.
"""

import json
import math
from typing import Any

import orjson
import pydantic_core
from pydantic import ValidationError

# The only ways to write ':' inside a string: itself, or these escapes.
_ESCAPED_COLONS = (b"\\u003a", b"\\u003A")


def load_json(raw: bytes | str, title: str) -> Any:
    """The decoded JSON value of `raw`; `title` names the model in the error message."""
    try:
        value = pydantic_core.from_json(raw, allow_inf_nan=False)
    # ValueError: not JSON, not UTF-8, too deep, number out of range.
    # TypeError: pydantic-core refuses a str holding lone surrogates this way.
    except (ValueError, TypeError) as exc:
        raise invalid_json(title, raw, str(exc)) from None
    text = raw if isinstance(raw, bytes) else raw.encode()  # parsed: no lone surrogates
    if _plainly_unique(value, text):
        return value
    colons = _colons(value)
    if colons is None:
        raise invalid_json(title, raw, "number out of range (overflows to infinity)")
    if colons != text.count(b":") or any(escape in text for escape in _ESCAPED_COLONS):
        key = _repeated_key(text)
        if key is not None:
            reason = f"the key {key[:64]!r} appears twice in one object: the body is ambiguous"
            raise invalid_json(title, raw, reason)
    return value


def invalid_json(title: str, raw: bytes | str, reason: str) -> ValidationError:
    return ValidationError.from_exception_data(
        title,
        [{"type": "json_invalid", "loc": (), "input": raw, "ctx": {"error": reason}}],
    )


def _plainly_unique(value: Any, text: bytes) -> bool:
    """True when `value`, decoded from `text`, has lost nothing: no repeated key and no
    number that overflowed to infinity. The fast check of load_json, in C: False sends
    it to the exact one (_colons), never the other way round.

    orjson writes back every key and string as decoded, ':' and 'null' unescaped, and an
    infinite float as null. Without an escaped ':' in the text, the colons written back
    are the text's less those of a repeated key and its dropped value; the 'null's
    written back are the text's, less those of dropped values, plus one per infinity
    (and any spelt with escapes in the text). So equal counts of both mean nothing was
    dropped and nothing overflowed."""
    if b"\\u003" in text:
        return False  # perhaps an escaped ':'
    try:
        again = orjson.dumps(value)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: the exact check takes it
        return False
    return again.count(b":") == text.count(b":") and again.count(b"null") == text.count(b"null")


def _colons(value: Any) -> int | None:
    """Keys plus the ':' in every string, keys included; None if a float is infinite.

    Every ':' of a JSON text either ends a key or stands in a string, and a string holds
    a ':' only as written (or as an escape, which load_json checks the slow way). So
    without duplicates this equals the text's count of ':'; an object that repeats a key
    keeps one of them, and the count falls short. One walk over the parsed value, no
    regular expression over the text: the check must stay cheap next to the parse."""
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            count += len(item) + "".join(item).count(":")
            stack.extend(item.values())
        elif kind is str:
            count += item.count(":")
        elif kind is list:
            stack.extend(item)
        elif kind is float and not math.isfinite(item):
            return None
    return count


class _RepeatedKeyError(Exception):
    pass


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKeyError(key)
            seen.add(key)
    return obj


_PAIRS_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object)


def _repeated_key(text: bytes) -> str | None:
    """The first key an object of `text` repeats (the text is already known to be JSON)."""
    try:
        _PAIRS_DECODER.decode(text.decode())
    except _RepeatedKeyError as exc:
        return str(exc.args[0])
    except (ValueError, RecursionError):
        return None  # pydantic-core accepted it: it is the judge of JSON syntax
    return None
