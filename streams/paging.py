"""Pages of a sorted table scan: the limit a caller asks for and the cursor it passes back.

A cursor names the last row of a page, so the next page starts right after it in key
order: a row present during the whole paging is listed exactly once, whatever is added
or removed meanwhile (a row added behind the cursor is simply not on a later page). It
is opaque to callers (base64url of a JSON array), so the key layout may change.
"""

import base64
import binascii
from collections.abc import Collection, Sequence

import orjson


class PageError(ValueError):
    """A limit or cursor that is not one this worker gives out (the view answers 400)."""


def page_limit(raw: str | None, default: int, maximum: int) -> int:
    """The page size asked for, clamped to 1..maximum; `default` when not asked."""
    if raw is None:
        return default
    try:
        asked = int(raw)
    except ValueError:
        raise PageError("limit must be an integer") from None
    return min(max(asked, 1), maximum)


def encode_cursor(parts: Sequence[str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, kinds: Collection[str]) -> tuple[str, str] | None:
    """(kind, id) of the row a cursor names; None without a cursor."""
    if cursor is None:
        return None
    try:
        parts = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise PageError("after is not a cursor this service gave out") from None
    if (
        not isinstance(parts, list)
        or len(parts) != 2
        or parts[0] not in kinds
        or not isinstance(parts[1], str)
    ):
        raise PageError("after is not a cursor this service gave out")
    return parts[0], parts[1]
