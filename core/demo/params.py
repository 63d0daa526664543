"""The demo server's query parameters, parsed and checked before any ERP work.

Every function raises `BadRequest` (answered 400 with its message) for a
parameter the API refuses: an unknown or repeated one, a query string that is
not UTF-8, a `since` that is not a cursor, a `limit` outside 1 to `MAX_LIMIT`.
Empty values count as absent, as the API promises (see `core.demo.server`).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from core.entities import CURSOR_PATTERN
from core.sources.http import DEFAULT_LIMIT, MAX_LIMIT

_CURSOR = re.compile(CURSOR_PATTERN)


class BadRequest(Exception):
    """A request parameter is invalid: answered 400 with this message."""


def query(text: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """Single-valued query parameters, empty ones dropped; unknown or repeated ones refused."""
    try:
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError as exc:
        raise BadRequest("query string is not valid UTF-8") from exc
    params: dict[str, str] = {}
    for name, values in parsed.items():
        if name not in allowed:
            raise BadRequest(f"unknown query parameter {name!r}; allowed: {', '.join(allowed)}")
        if len(values) > 1:
            raise BadRequest(f"query parameter {name!r} given more than once")
        if values[0] != "":
            params[name] = values[0]
    return params


def since(params: dict[str, str]) -> str | None:
    value = params.get("since")
    if value is not None and not _CURSOR.match(value):
        raise BadRequest(
            f"since {value!r} is not a cursor (UTC ISO-8601 ending in Z, e.g. 2026-01-01T00:00:00Z)"
        )
    return value


def limit(params: dict[str, str]) -> int:
    text = params.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {text!r}")
    return int(text)
