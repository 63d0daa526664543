"""What an entity is: its key, cursor, columns and child tables, as data.

An entity is data, not code: the one sync engine, the replica's DDL, the record
models' shape and the configuration's defaults all read these specs. The replica
tables they describe are a public contract (other programs read them), so a change
to an entity's columns bumps its `mapping_version`, which makes the next auto run
a full one. Standard library and msgspec only: the configuration reads this on
every start.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

import msgspec

CURSOR_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
"""Cursors are UTC ISO-8601 timestamps ending in Z: they sort as text."""

ColumnKind = Literal["text", "real", "integer", "decimal", "boolean", "timestamp", "date", "json"]
"""A replica column's kind; each SQL dialect maps it to its own type (`core.replica.schema`).
The built-in entities use the first three; configured ones any (`core.sync.kinds`)."""

SYNC_KEY = "sync_key"
"""A configured entity's key as text, the column the replica keys it by: the key's value,
or a composite key's values as a JSON array."""
SYNC_PARENT = "sync_parent"
"""A configured child table's column holding its parent's `sync_key`."""

MINUTE = 60.0


# dict=True on these specs: `cached_property` keeps its value in the instance's __dict__,
# which a Struct has only when asked for.
class ChildTable(msgspec.Struct, frozen=True, dict=True):
    """Rows owned by a parent record, replaced together with it (order lines).

    Every child column is NOT NULL; the child table's primary key is `key_columns`."""

    table: str
    record_field: str
    """The parent record's field that holds the child records."""
    parent_column: str
    fields: tuple[tuple[str, ColumnKind], ...]
    key_columns: tuple[str, ...]

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """The child columns taken from each child record (the parent column excluded)."""
        return tuple(name for name, _ in self.fields)


class EntitySpec(msgspec.Struct, frozen=True, dict=True):
    name: str
    """Also the service name and the replica table."""
    key: str
    fields: tuple[tuple[str, ColumnKind], ...]
    """The replica columns and their kinds, in table order: key first, cursor last."""
    default_priority: int
    """The service's base priority unless configured (higher runs first); the built-in
    entities' stagger order is this order too."""
    default_interval_s: float
    """How often the schedule requests a sync unless configured."""
    cursor: str = "updated_at"
    mapping_version: int = 2
    """What the replica's rows are made by; a change makes the next auto run a full one,
    which rewrites every row. 2: rows fingerprinted without marshal's back-references
    (`core.sync.digest`), so every row's `row_hash` is written anew once."""
    child: ChildTable | None = None
    source: str | None = None
    """The `[sources.NAME]` a configured entity is read from; None: a built-in one."""
    key_columns: tuple[str, ...] = ()
    """A configured entity's own key columns (its replica key is then `sync_key`)."""
    lookback_s: float = 0.0
    """How far before the stored cursor an incremental run reads again (late commits)."""
    zone: str = "UTC"
    """What naive timestamps in the source mean."""

    def __post_init__(self) -> None:
        names = [name for name, _ in self.fields]
        if not names or names[0] != self.key or names[-1] != self.cursor:
            raise ValueError(f"{self.name}: columns must run from the key to the cursor")

    @property
    def table(self) -> str:
        return self.name

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """Replica column names: key first, cursor last."""
        return tuple(name for name, _ in self.fields)

    @cached_property
    def kinds(self) -> dict[str, ColumnKind]:
        return dict(self.fields)
