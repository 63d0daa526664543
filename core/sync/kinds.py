"""Turning a configured entity's raw source values into replica values, kind by kind.

A source hands values as its driver or its JSON gives them (`Decimal`, naive or
aware `datetime`, `0`/`1` for a boolean, text). Each column's kind says what the
replica stores, and every value that cannot be read as its kind makes its record a
reject with the reason (quarantined, counted), never a crash:

- `decimal`: exact text (`format(d, "f")`), never through a float; a float that a
  source already made is taken as its shortest repr;
- `timestamp`: UTC ISO-8601 with six fractional digits and `Z`, so cursors sort as
  text; a naive value is read in the entity's zone (the earlier instant of an hour
  that occurs twice), fractions below a microsecond are floored, never rounded up;
- `date`: `YYYY-MM-DD`; `boolean`: True or False; `json`: compact text, keys sorted.

Rows become `Batch`es for the replica, keyed by `sync_key`: the key's value as text,
or a composite key's values as a JSON array. Pure functions; nothing here raises for
a bad value (see above).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from core.entities import ColumnKind, EntitySpec
from core.replica.base import Batch
from core.sources.base import Page
from core.sync.digest import digests, row_digest
from core.sync.kind_columns import fast_columns

Convert = Callable[[Any], Any]

_FRACTION = re.compile(r"\.(\d{7,})")


class BadValue(ValueError):
    """A value that its column's kind cannot hold; its message is the reason."""


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise BadValue(f"expected text, got {type(value).__name__}")
    return str(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise BadValue("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal | float) and value == value and value == int(value):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        return int(value)
    raise BadValue(f"expected an integer, got {value!r}")


def _real(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise BadValue(f"expected a number, got {type(value).__name__}")
    try:
        number = float(value)
    except ValueError:
        raise BadValue(f"expected a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise BadValue(f"expected a finite number, got {value!r}")
    return number


def _decimal(value: Any) -> str:
    if isinstance(value, bool):
        raise BadValue("expected a decimal, got a boolean")
    if isinstance(value, float):
        value = repr(value)  # the shortest text that is this float: no binary noise
    try:
        number = Decimal(value) if isinstance(value, int | str) else value
    except InvalidOperation:
        raise BadValue(f"expected a decimal, got {value!r}") from None
    if not isinstance(number, Decimal) or not number.is_finite():
        raise BadValue(f"expected a finite decimal, got {value!r}")
    return format(number, "f")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "t", "f", "1", "0"):
        return value.strip().lower() in ("true", "t", "1")
    raise BadValue(f"expected a boolean, got {value!r}")


def _json(value: Any) -> str:
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            raise BadValue("not valid JSON") from None
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        raise BadValue(f"cannot be stored as JSON: {type(value).__name__}") from None


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        raise BadValue("expected a date, got a date and time")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise BadValue(f"expected a date (YYYY-MM-DD), got {value!r}")


def utc_text(moment: datetime) -> str:
    """An aware datetime as the replica's timestamp text (UTC, microseconds, Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def timestamp_converter(zone: tzinfo) -> Convert:
    """A converter reading naive values (and text without an offset) in `zone`."""

    def convert(value: Any) -> str:
        if isinstance(value, str):
            text = _FRACTION.sub(lambda m: "." + m.group(1)[:6], value.strip())  # floored
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                raise BadValue(f"expected an ISO-8601 timestamp, got {value!r}") from None
        elif not isinstance(value, datetime):
            raise BadValue(f"expected a timestamp, got {value!r}")
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone, fold=0)
        return utc_text(value)

    return convert


def reread_from(cursor: str, kind: ColumnKind, lookback_s: float) -> str:
    """Where an incremental run starts: `lookback_s` before the stored cursor, in the
    cursor's own time (the data's, never the host's clock); a date cursor goes back whole
    days. A cursor this cannot read is returned as it is."""
    if not lookback_s:
        return cursor
    try:
        if kind == "date":
            days = -(-lookback_s // 86400)
            return (date.fromisoformat(cursor) - timedelta(days=days)).isoformat()
        if kind == "timestamp":
            moment = datetime.fromisoformat(cursor)
            return utc_text(moment - timedelta(seconds=lookback_s))
    except (ValueError, OverflowError):
        pass
    return cursor


_PLAIN: dict[ColumnKind, Convert] = {
    "text": _text,
    "integer": _integer,
    "real": _real,
    "decimal": _decimal,
    "boolean": _boolean,
    "date": _date,
    "json": _json,
}


def converters(kinds: list[ColumnKind], zone: str) -> list[Convert]:
    stamp = timestamp_converter(ZoneInfo(zone))
    return [stamp if kind == "timestamp" else _PLAIN[kind] for kind in kinds]


class KindCodec:
    """A configured entity's codec: pages of raw rows in, the replica's batches out.

    A page's rows carry the spec's columns after `sync_key` (the cursor last); its
    children, if the entity has a child table, the child's columns."""

    def __init__(self, spec: EntitySpec) -> None:
        self.spec = spec
        fields = spec.fields[1:]
        self._names = tuple(name for name, _ in fields)
        self._convert = converters([kind for _, kind in fields], spec.zone)
        self._fast = fast_columns([kind for _, kind in fields], ZoneInfo(spec.zone))
        self._key_at = tuple(self._names.index(k) for k in spec.key_columns)
        self._integer_cursor = fields[-1][1] == "integer"
        self._required = {*self._key_at, len(fields) - 1}
        child = spec.child
        self._child_convert = (
            converters([kind for _, kind in child.fields], spec.zone) if child else []
        )
        self._child_required = (
            {i for i, (name, _) in enumerate(child.fields) if name in child.key_columns}
            if child
            else set()
        )

    def cursor_value(self, raw: Any) -> Any:
        """A raw cursor value as the replica's cursor holds it; None for None or a value
        that cannot be one."""
        try:
            return None if raw is None else self.cursor_text(self._convert[-1](raw))
        except BadValue:
            return None

    def cursor_text(self, value: Any) -> Any:
        """A converted cursor value as `sync_state.cursor` holds it: text that sorts as
        the values do. An integer is zero-padded to 20 digits (as text, 9 would sort after
        10); a negative one raises BadValue."""
        if self._integer_cursor and value is not None:
            if value < 0:
                raise BadValue(f"an integer cursor cannot be negative, got {value}")
            return f"{value:020d}"
        return value

    def with_cursor_texts(self, batch: Batch) -> Batch:
        """`batch` with each row's cursor value as `cursor_text` writes it, for `verify`,
        which compares rows' cursors with the stored one (no row is written from it)."""
        if self._integer_cursor:
            batch.values = [(*v[:-1], self.cursor_text(v[-1])) for v in batch.values]
        return batch

    def decode(self, records: list[Any], want_seen: bool = False) -> Batch:
        """Records as dicts, by column name."""
        rows = [
            tuple(r.get(n) if isinstance(r, dict) else None for n in self._names) for r in records
        ]
        return self.decode_rows(rows, None, want_seen)

    def decode_page(self, page: Page | list[dict[str, Any]], want_seen: bool = False) -> Batch:
        if isinstance(page, list):
            return self.decode(page, want_seen)
        if page.rows is None:
            return self.decode(page.records, want_seen)
        return self.decode_rows(page.rows, page.children, want_seen)

    def decode_rows(
        self,
        rows: list[tuple[Any, ...]],
        children: list[list[tuple[Any, ...]]] | None = None,
        want_seen: bool = False,
    ) -> Batch:
        if children is None and self.spec.child is None and rows:
            fast = self._decode_columns(rows, want_seen)
            if fast is not None:
                return fast
        batch = Batch(fetched=len(rows))
        for i, row in enumerate(rows):
            key = self._raw_key(row)
            try:
                values = self._row(row)
                kids = self._children(children[i]) if children is not None else []
            except BadValue as exc:
                payload = json.dumps(dict(zip(self._names, row, strict=False)), default=str)
                batch.rejected.append((key, payload, str(exc)))
                continue
            sync_key = values[0]
            batch.keys.append(sync_key)
            batch.values.append(values)
            if self.spec.child is not None:
                batch.children.append([(sync_key, *kid) for kid in kids])
            else:
                batch.children.append([])
        if want_seen:
            batch.keys_seen = [k for k in (self._raw_key(r) for r in rows) if k is not None]
        if batch.values:
            batch.top_cursor = self._top(max(v[-1] for v in batch.values))
            batch.digests = list(map(row_digest, batch.values, batch.children))
        return batch

    def _decode_columns(self, rows: list[tuple[Any, ...]], want_seen: bool) -> Batch | None:
        """The page converted column by column (`core.sync.kind_columns`); None when a
        column needs value-by-value conversion (mixed types, a bad value, a missing key)."""
        if set(map(len, rows)) != {len(self._fast)}:
            return None
        columns = list(map(list, zip(*rows, strict=True)))
        converted = []
        for i, (fast, column) in enumerate(zip(self._fast, columns, strict=True)):
            if i in self._required and None in column:
                return None
            values = fast(column)
            if values is None:
                return None
            converted.append(values)
        keys = converted[self._key_at[0]] if len(self._key_at) == 1 else None
        if keys is None:
            sync_keys = [
                self._sync_key(list(parts))
                for parts in zip(*(converted[i] for i in self._key_at), strict=True)
            ]
        else:
            sync_keys = list(map(str, keys))
        batch = Batch(fetched=len(rows), keys=sync_keys)
        batch.values = list(zip(sync_keys, *converted, strict=True))
        batch.children = [[]] * len(rows)
        batch.top_cursor = self._top(max(converted[-1]))
        batch.digests = digests(batch.values)
        if want_seen:
            batch.keys_seen = list(sync_keys)
        return batch

    def _row(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        if len(row) != len(self._convert):
            raise BadValue(f"expected {len(self._convert)} columns, got {len(row)}")
        values = _converted(row, self._convert, self._names, self._required)
        return (self._sync_key([values[i] for i in self._key_at]), *values)

    def _children(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        child = self.spec.child
        assert child is not None
        names = tuple(f"{child.table}.{name}" for name, _ in child.fields)
        return [
            tuple(_converted(row, self._child_convert, names, self._child_required)) for row in rows
        ]

    def _top(self, value: Any) -> str | None:
        """The page's highest cursor as `sync_state.cursor` holds it; None (the cursor stays)
        for one `cursor_text` refuses."""
        try:
            text: str | None = self.cursor_text(value)
        except BadValue:
            return None
        return text

    def _raw_key(self, row: tuple[Any, ...]) -> str | None:
        """The key as text even for a record that is otherwise invalid (it still exists in
        the source), or None when a key column cannot be read."""
        try:
            parts = [self._convert[i](row[i]) for i in self._key_at]
        except (BadValue, IndexError):
            return None
        return self._sync_key(parts)

    @staticmethod
    def _sync_key(parts: list[Any]) -> str:
        if len(parts) == 1:
            return str(parts[0])
        return json.dumps(parts, separators=(",", ":"), default=str)

    def key_parts(self, sync_key: str) -> tuple[str, ...]:
        """A `sync_key`'s key values as text, in the key columns' order."""
        if len(self.spec.key_columns) <= 1:
            return (sync_key,)
        return tuple(str(part) for part in json.loads(sync_key))


def _converted(
    row: tuple[Any, ...], convert: list[Convert], names: tuple[str, ...], required: set[int]
) -> list[Any]:
    """A row's values, each by its column's converter; a missing required value or one
    that does not fit raises BadValue naming its column."""
    values: list[Any] = []
    for i, (to_kind, value) in enumerate(zip(convert, row, strict=True)):
        if value is None:
            if i in required:
                raise BadValue(f"{names[i]}: missing")
            values.append(None)
            continue
        try:
            values.append(to_kind(value))
        except BadValue as exc:
            raise BadValue(f"{names[i]}: {exc}") from None
    return values
