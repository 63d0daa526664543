"""What a SQL source reads for one entity: where its rows come from and how each replica
column is spelt in the source's SQL. Plain data, built from `[entities.NAME]` by the
configuration; the source (`core.sources.sql.source`) turns it into SELECTs.

Column names here are replica columns; `expression` is the SQL that yields one in the
source (the column of the same name by default, or a `map` entry). Nothing here raises.
"""

from __future__ import annotations

from typing import Literal

import msgspec

CursorKind = Literal["timestamp", "date", "integer", "text"]
Horizon = Literal["cursor", "xmin"]


class SqlColumn(msgspec.Struct, frozen=True):
    name: str
    """The replica column."""
    expression: str
    """Its SQL in the source: a column of the relation, or an expression over its columns."""


class SqlChild(msgspec.Struct, frozen=True, kw_only=True):
    """Rows owned by a parent, read in the same snapshot as the parents' page."""

    table: str | None = None
    query: str | None = None
    """Exactly one of `table` and `query` (a read-only SELECT, used as a subquery)."""
    parent: str
    """The child's source column that holds its parent's key (a single-column key)."""
    columns: tuple[SqlColumn, ...]
    """In the order a page's child rows carry them."""
    key: tuple[str, ...]
    """Replica column names: the child's key, unique within the child table."""


class SqlEntity(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    table: str | None = None
    query: str | None = None
    """Exactly one of `table` and `query` (a read-only SELECT, used as a subquery)."""
    columns: tuple[SqlColumn, ...]
    """In the order a page's rows carry them: the replica's columns, the cursor last."""
    key: tuple[str, ...]
    """Replica column names of the key (one, or several for a composite key)."""
    cursor: str
    """The replica column that orders changes (the last of `columns`)."""
    cursor_kind: CursorKind
    horizon: Horizon = "cursor"
    """`xmin` (PostgreSQL only): an incremental run lists the rows whose transaction
    committed at or after the previous run's snapshot horizon, whatever their cursor."""
    child: SqlChild | None = None
