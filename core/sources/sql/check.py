"""`SqlCheck`: what `SqlSource.check(entity)` found about one entity's mapping, for
`syncdeck sources check` to show. Plain data; building one never raises for what it
finds (a failed step is a line in `problems`), only for a source that cannot be reached
at all (see `SqlSource.check`). Nothing here imports SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

import msgspec


class SqlCheck(msgspec.Struct, frozen=True, kw_only=True):
    entity: str
    source: str
    dialect: str
    database_time_zone: str | None
    """The database's own setting (PostgreSQL `SHOW TimeZone`; MySQL `@@session.time_zone`
    with `@@system_time_zone`): what naive values in TIMESTAMP columns mean there."""
    zone: str
    """The source's `zone`, in which naive timestamps are read."""
    runs: bool
    """Whether a SELECT of every declared column from the relation or query runs."""
    columns_present: tuple[str, ...]
    """Replica columns whose expression the database accepts."""
    columns_missing: tuple[str, ...]
    """Replica columns whose expression fails (no such column, a bad expression)."""
    column_types: dict[str, str]
    """Replica column -> the driver's name for its type (PostgreSQL's type, MySQL's field
    type), or the Python type of a sample value where the driver names none (SQLite)."""
    rows: int | None
    """How many rows a full listing holds (None: the count failed)."""
    distinct_keys: int | None
    key_unique: bool | None
    """Whether no two rows share a key (COUNT vs COUNT DISTINCT); None: unknown."""
    cursor_nulls: int | None
    """Rows whose cursor is NULL: an incremental run never lists them."""
    sample: tuple[tuple[Any, ...], ...]
    """Up to three rows of the listing, raw, in `columns` order."""
    problems: tuple[str, ...] = ()
    """One line per step that failed, in the database's words."""
