"""The incremental filter: the query parameter that asks a REST API for records whose cursor
is at or after `since` (`Incremental`).

`since` is the engine's cursor, as the replica holds it: for a timestamp cursor, UTC
ISO-8601 text (`2026-01-02T03:04:05.000000Z`); for a date, `YYYY-MM-DD`. `format` says how
the API wants it: `iso` sends it as given; `unix` as whole seconds since the epoch (floored,
so an inclusive filter still covers `since`), `unix_ms` as milliseconds (floored); any
other format is a strftime pattern applied to `since` as wall time in the source's
`timezone` (a date, as the date). An integer cursor is sent as the number (the replica
keeps it zero-padded so that it sorts as text); a text cursor as given.

An exclusive filter (`inclusive = False`, the API's `>`) gets `since` as it is: the engine
already re-reads from `lookback_s` before its stored cursor, which the configuration
defaults to 1 s for an exclusive filter, so rows at the cursor itself are read again.

`filter_params` raises ValueError (its reason, one phrase) when `since` does not read as the
cursor's kind; the source makes that a SourceError.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.sources.rest.mapping import RestEntity

NAMED_FORMATS = ("iso", "unix", "unix_ms")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_problem(fmt: str) -> str | None:
    """Why `fmt` is not a cursor format (None: it is one)."""
    if fmt in NAMED_FORMATS or "%" in fmt:
        return None
    return f"incremental format {fmt!r} is not iso, unix, unix_ms or a strftime pattern"


def filter_params(entity: RestEntity, since: str | None, zone: ZoneInfo) -> dict[str, str]:
    """The query parameter of the incremental filter; empty when listing everything."""
    incremental = entity.incremental
    if since is None or incremental is None:
        return {}
    return {incremental.param: written(since, entity.cursor_kind, incremental.format, zone)}


def written(since: str, kind: str, fmt: str, zone: ZoneInfo) -> str:
    """`since` as the API wants it (see the module's docstring)."""
    if kind == "timestamp":
        moment = _timestamp(since)
        if fmt == "iso":
            return since
        if fmt in ("unix", "unix_ms"):
            unit = timedelta(seconds=1) if fmt == "unix" else timedelta(milliseconds=1)
            return str((moment - _EPOCH) // unit)
        return moment.astimezone(zone).strftime(fmt)
    if kind == "date":
        day = _date(since)
        if fmt == "iso":
            return since
        if fmt in ("unix", "unix_ms"):
            midnight = datetime.combine(day, time(), tzinfo=zone)
            unit = timedelta(seconds=1) if fmt == "unix" else timedelta(milliseconds=1)
            return str((midnight - _EPOCH) // unit)
        return day.strftime(fmt)
    if kind == "integer":
        if not re.fullmatch(r"\s*[+-]?\d+\s*", since):
            raise ValueError(f"since {since!r} is not an integer cursor value")
        return str(int(since))
    return since


def _timestamp(since: str) -> datetime:
    try:
        moment = datetime.fromisoformat(since.strip())
    except ValueError:
        raise ValueError(f"since {since!r} is not an ISO-8601 timestamp") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _date(since: str) -> date:
    try:
        return date.fromisoformat(since.strip())
    except ValueError:
        raise ValueError(f"since {since!r} is not a date (YYYY-MM-DD)") from None
