"""Cursor pagination: an opaque base64 cursor holding the sort key of the last item, and the link to the next page."""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import request, url_for

from web.api.problems import VALIDATION_FAILED, ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(key: Sequence[Any]) -> str:
    """Encode a sort key of strings, integers and datetimes; datetimes are written in ISO 8601."""
    values = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, types: Sequence[type]) -> tuple:
    """Decode a cursor made by ``encode_cursor`` for a sort key of ``types``, or raise a 422 ApiError naming it."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong number of values")
        return tuple(_convert(value, kind) for value, kind in zip(values, types))
    except (ValueError, TypeError, UnicodeError, binascii.Error) as error:
        raise ApiError(
            VALIDATION_FAILED,
            "the cursor is invalid; pass the cursor from the 'next' link of the previous page unchanged",
            errors=[{"field": "cursor", "message": f"not a cursor of this list ({type(error).__name__})"}],
        ) from error


def _convert(value: Any, kind: type) -> Any:
    if kind is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("datetime without an offset")
        return parsed
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise ValueError("not an id")
        return value
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind.__name__}")
    return value


def after(columns: Sequence[sa.ColumnElement], key: Sequence[Any], *, descending: bool = False) -> sa.ColumnElement[bool]:
    """Return the condition 'sorts after ``key``' for a lexicographic order over ``columns``."""
    conditions = []
    for index, column in enumerate(columns):
        equal_before = [columns[earlier] == key[earlier] for earlier in range(index)]
        beyond = column < key[index] if descending else column > key[index]
        conditions.append(sa.and_(*equal_before, beyond))

    return sa.or_(*conditions)


def page(rows: list, limit: int, sort_key: Callable[[Any], Sequence[Any]]) -> tuple[list, str | None]:
    """Split ``limit + 1`` fetched rows into one page and the URL of the next page (None on the last page)."""
    items = rows[:limit]
    if len(rows) <= limit:
        return items, None

    arguments = request.args.to_dict()
    arguments["cursor"] = encode_cursor(sort_key(items[-1]))
    return items, url_for(request.endpoint, **(request.view_args or {}), **arguments)


def link_header(next_url: str | None) -> dict[str, str]:
    return {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
