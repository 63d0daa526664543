"""A whole column of a page converted at once, where its values' types allow it.

A database driver hands a column's values with one type (all `int`, all `Decimal`, all
naive `datetime`), so most columns convert with C-level loops (`map` over a builtin)
instead of a Python call per value: the hot path of a large sync. A column this cannot
take whole (mixed types, text that must be parsed) returns None, and the codec converts
its page value by value, with a reason for each value that does not fit
(`core.sync.kinds`). The results are exactly those of the value-by-value converters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import partial
from itertools import repeat
from operator import is_not, sub
from typing import Any

from core.entities import ColumnKind

Column = list[Any]
FastColumn = Callable[[Column], Column | None]

_NONE = type(None)


def _types(values: Column) -> set[type]:
    """The values' types, `NoneType` among them when a value is None: whether a column holds
    None is read from its types, never with `None in values`, which costs a comparison per
    value (a slow one for Decimal)."""
    return set(map(type, values))


def _keep(allowed: set[type]) -> FastColumn:
    allowed = allowed | {_NONE}

    def convert(values: Column) -> Column | None:
        return values if _types(values) <= allowed else None

    return convert


def _decimal(values: Column) -> Column | None:
    types = _types(values)
    if types == {Decimal}:
        if not all(map(Decimal.is_finite, values)):
            return None
        return list(map(format, values, repeat("f")))
    if types <= {int}:
        return list(map(str, values))
    return None


_not_none = partial(is_not, None)
"""`v is not None`, as a C-level predicate for `filter`."""


def _real(values: Column) -> Column | None:
    if _types(values) <= {float, _NONE} and all(map(math.isfinite, filter(_not_none, values))):
        return values
    return None


def _boolean(values: Column) -> Column | None:
    types = _types(values)
    if types <= {bool, _NONE}:
        return values
    if types <= {int, bool} and set(values) <= {0, 1}:
        return list(map(bool, values))
    return None


def _date(values: Column) -> Column | None:
    if _types(values) <= {date}:
        return list(map(date.isoformat, values))
    return None


def _timestamps(zone: tzinfo) -> FastColumn:
    """Naive values in `zone` (the first of an hour that occurs twice, as `fold=0` reads
    it), or aware ones, as UTC text with microseconds and Z. Naive ones are converted with
    C-level loops alone (their offsets, the subtraction, `isoformat`), no Python call per
    value: the costliest column of a large sync."""
    utc = str(zone) in ("UTC", "Etc/UTC")
    offset = zone.utcoffset

    def naive(values: Column) -> Column:
        moments = values if utc else map(sub, values, map(offset, values))
        texts = map(datetime.isoformat, moments, repeat("T"), repeat("microseconds"))
        return [text + "Z" for text in texts]

    def aware(value: datetime) -> str:
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

    def convert(values: Column) -> Column | None:
        if _types(values) != {datetime}:
            return None
        if all(v.tzinfo is None for v in values):
            return naive(values)
        if all(v.tzinfo is not None for v in values):
            return list(map(aware, values))
        return None

    return convert


def fast_columns(kinds: list[ColumnKind], zone: tzinfo) -> list[FastColumn]:
    found: dict[ColumnKind, FastColumn] = {
        "text": _keep({str}),
        "integer": _keep({int}),
        "real": _real,
        "decimal": _decimal,
        "boolean": _boolean,
        "timestamp": _timestamps(zone),
        "date": _date,
        "json": lambda values: None,
    }
    return [found[kind] for kind in kinds]
