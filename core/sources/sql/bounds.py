"""From a `since` in the replica's terms to the lower bound of a SQL source's cursor.

`since` arrives as text: for a `timestamp` cursor a UTC ISO-8601 instant (`...Z`,
microseconds optional), for `date` `YYYY-MM-DD`, for `integer` decimal digits, for `text`
any text. `source_bound` turns it into the value the source's cursor is compared with,
given the `Shape` of the values the cursor holds (probed once by the source):

- aware timestamps (PostgreSQL `timestamptz`): the instant, as an aware UTC datetime;
- naive timestamps (wall times in the source's `zone`): `wall_lower_bound`, the lowest
  wall time of any instant at or after `since` (see its docstring: the autumn's repeated
  hour), as a naive datetime;
- dates: that bound's date; timestamps stored as text (SQLite): the bound as text shaped
  like the stored values (`T` or space, no trailing zeros), which SQLite compares as text.

A bound is never rounded up (fractions beyond microseconds are cut). A `since` that does
not parse raises `ValueError`, which the source reports as a `SourceError`. Pure functions.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from core.sources.sql.mapping import CursorKind

LOOK_AHEAD = timedelta(hours=26)
"""How far after an instant backward transitions are looked for: the largest jump back a
zone has made is a day (a date-line move); an hour is the usual."""
_STEP = timedelta(minutes=30)

_INSTANT = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Shape:
    """What a cursor's values are, as the driver returns them."""

    kind: Literal["aware", "naive", "date", "text", "other"]
    sep: str = " "
    """For `text`: between the date and the time."""
    aware_suffix: str | None = None
    """For `text` holding instants with an offset: how UTC is spelt (`Z`, `+00:00`)."""


def shape_of(value: object) -> Shape:
    """The shape of one non-NULL cursor value."""
    if isinstance(value, datetime):
        return Shape("naive" if value.tzinfo is None else "aware")
    if isinstance(value, date):
        return Shape("date")
    if isinstance(value, str):
        match = _INSTANT.fullmatch(value.strip())
        sep = "T" if "T" in value.upper() else " "
        if match and match.group(6):
            return Shape("text", sep, "Z" if match.group(6).upper() == "Z" else "+00:00")
        return Shape("text", sep)
    return Shape("other")


def parse_instant(text: str) -> datetime:
    """An aware datetime from ISO-8601 text (no offset: UTC); fractions beyond microseconds
    are cut, never rounded up. ValueError when it is not one."""
    match = _INSTANT.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an ISO-8601 timestamp")
    day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "")[:6].ljust(6, "0"))
    naive = datetime.fromisoformat(f"{day}T{hour}:{minute}:{second or '00'}").replace(
        microsecond=micro
    )
    if offset is None or offset.upper() == "Z":
        return naive.replace(tzinfo=UTC)
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return (naive - sign * delta).replace(tzinfo=UTC)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _first_with_offset(start: datetime, end: datetime, zone: ZoneInfo) -> datetime:
    """The instant in (start, end] at which `zone`'s offset changes (once) from start's to
    end's: transitions fall on whole seconds, so a search over whole seconds finds it."""
    old = start.astimezone(zone).utcoffset()
    low, high = math.floor(start.timestamp()), math.ceil(end.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == old:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def wall_lower_bound(instant: datetime, zone: ZoneInfo) -> datetime:
    """The lowest wall time (naive, in `zone`) of any instant at or after `instant`.

    Wall time rises with time except at a backward transition (autumn), where it jumps back.
    In Europe/Rome on 2026-10-25 the clocks go from 02:59:59 CEST back to 02:00:00 CET at
    01:00 UTC, so a row written at 01:10 UTC reads 02:10, lower than one written at 00:50
    UTC (02:50). A naive cursor compared with the wall time of `since` would miss it; the
    bound is therefore min(wall(instant), the wall time just after every backward transition
    within `LOOK_AHEAD` after `instant`). In UTC, or with no such transition near (spring
    only moves forward), it is wall(instant). Microseconds are kept as they are."""
    if instant.tzinfo is None:
        raise ValueError("wall_lower_bound needs an aware instant")
    instant = instant.astimezone(UTC)
    lowest = _wall(instant, zone)
    before = instant
    offset = instant.astimezone(zone).utcoffset()
    end = instant + LOOK_AHEAD
    while before < end:
        after = min(before + _STEP, end)
        next_offset = after.astimezone(zone).utcoffset()
        if next_offset != offset and offset is not None and next_offset is not None:
            if next_offset < offset:  # backward: wall time jumps back here
                change = _first_with_offset(before, after, zone)
                lowest = min(lowest, _wall(change, zone))
            offset = next_offset
        before = after
    return lowest


def _text_of(wall: datetime, sep: str) -> str:
    text = wall.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if wall.microsecond:
        text += "." + f"{wall.microsecond:06d}".rstrip("0")
    return text  # the shortest spelling: never greater than a longer one of the same time


def source_bound(since: str, kind: CursorKind, shape: Shape, zone: ZoneInfo) -> Any:
    """The value a cursor of `shape` is compared with (`cursor >= bound`); ValueError when
    `since` is not of `kind`."""
    if kind == "integer":
        if not since.strip().lstrip("-").isdigit():
            raise ValueError(f"{since!r} is not an integer")
        return int(since)
    if kind == "text":
        return since
    if kind == "date":
        day = date.fromisoformat(since.strip()[:10])
        return day.isoformat() if shape.kind == "text" else day
    instant = parse_instant(since)
    if shape.kind == "aware":
        return instant
    if shape.kind == "text" and shape.aware_suffix is not None:
        text = _text_of(instant.replace(tzinfo=None), shape.sep)
        return text + shape.aware_suffix
    if shape.kind == "other":
        raise ValueError("the cursor holds neither timestamps, dates nor text")
    wall = wall_lower_bound(instant, zone)
    if shape.kind == "date":
        return wall.date()
    if shape.kind == "text":
        return _text_of(wall, shape.sep)
    return wall
