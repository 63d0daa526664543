"""The SQL source's SELECTs, built with SQLAlchemy Core for any dialect.

A `table` is `sqlalchemy.table()` (schema-qualified when written `schema.table`, quoted
as the dialect needs); a `query` is a subquery `(query) AS src`; each column is its
operator-written expression (`literal_column`), labelled with the replica column's name.

A listing is paged by keyset, never by OFFSET: a full pass is ordered by the key, an
incremental one by (cursor, key). After a page, the next one starts past its last row
with the comparison written out, `c > :c OR (c = :c AND (k1 > :k1 OR (k1 = :k1 AND k2 >
:k2)))`. It is never a row-value comparison (`(c, k) > (:c, :k)`), which MariaDB
answers without its index and SQL Server does not have. A leading `c >= :c` keeps the
scan on an index range. Rows whose key is NULL are never listed (no replica row could
hold them). An incremental listing on the `cursor` horizon lists `c >= :since`; on the
`xmin` horizon (PostgreSQL) the rows whose `xmin` is at or after the horizon, modulo 2^32
(which takes a full scan: no index holds xmin).

Each builder returns a statement with its values bound; nothing here touches a database.
The mapping is assumed valid (the source checks it first).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from core.sources.sql.mapping import SqlChild, SqlColumn, SqlEntity
from core.sources.sql.urls import Dialect

PARENT_LABEL = "syncdeck_parent_key"
"""The extra column of a child SELECT: the parent's key, to group child rows by."""

XMIN_AFTER = (
    "xmin::text::bigint > 2 AND ((xmin::text::bigint - (:xmin_since % 4294967296) "
    "+ 4294967296) % 4294967296) < 2147483648"
)
"""The rows a transaction at or after the horizon wrote: 32-bit xids compared modulo 2^32
(half the circle ahead counts as after), frozen (2) and bootstrap (1) xids left out."""

HORIZON = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text"

_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def escape_binds(sql: str) -> str:
    """`sql` with every `:name` that SQLAlchemy's text() would take for a parameter escaped
    (`\\:name`), so an operator's query reaches the database exactly as written."""
    return _BIND.sub(r"\\:\1", sql)


def _unquote(part: str) -> str:
    part = part.strip()
    if len(part) >= 2 and part[0] + part[-1] in ('""', "``", "[]"):
        return part[1:-1]
    return part


def relation(table: str | None, query: str | None) -> sa.FromClause:
    """Where the rows come from: a table (`name` or `schema.name`) or `(query) AS src`."""
    if table is not None:
        *schema, name = (_unquote(p) for p in table.split("."))
        return sa.table(name, schema=".".join(schema) or None)
    assert query is not None
    return sa.text(escape_binds(query.strip().rstrip(";"))).columns().subquery("src")


def sql(expression: str) -> ColumnElement[Any]:
    """An operator-written SQL expression, as it is."""
    return sa.literal_column(expression)


def _labelled(columns: Sequence[SqlColumn]) -> list[sa.Label[Any]]:
    return [sql(c.expression).label(c.name) for c in columns]


def _expressions(columns: Sequence[SqlColumn], names: Sequence[str]) -> list[ColumnElement[Any]]:
    by_name = {c.name: c.expression for c in columns}
    return [sql(by_name[name]) for name in names]


def _limit(select: sa.Select[Any], rows: int, dialect: Dialect) -> sa.Select[Any]:
    if dialect == "sqlite":  # SQLAlchemy would add `OFFSET 0` to SQLite's LIMIT
        return select.suffix_with(f"LIMIT {int(rows)}")
    return select.limit(rows)


def after(order: Sequence[ColumnElement[Any]], last: Sequence[Any]) -> ColumnElement[bool]:
    """The rows past `last` in `order`, the comparison written out (see the docstring)."""
    binds: list[sa.BindParameter[Any]] = [
        sa.bindparam(f"after_{i}", value) for i, value in enumerate(last)
    ]
    clause: ColumnElement[bool] = order[-1] > binds[-1]
    for expression, bind in zip(reversed(order[:-1]), reversed(binds[:-1]), strict=True):
        clause = sa.or_(expression > bind, sa.and_(expression == bind, clause).self_group())
    return sa.and_(order[0] >= binds[0], clause)


def order_of(entity: SqlEntity, incremental: bool) -> list[ColumnElement[Any]]:
    """What a listing is ordered by: the key, after the cursor when incremental."""
    names = [entity.cursor, *entity.key] if incremental else list(entity.key)
    return _expressions(entity.columns, names)


def listing_filter(entity: SqlEntity, since: Any | None) -> list[ColumnElement[bool]]:
    """Which rows a listing holds (`since` None: all of them), before any page."""
    keys = _expressions(entity.columns, entity.key)
    where: list[ColumnElement[bool]] = [k.is_not(None) for k in keys]
    if since is None:
        return where
    cursor = _expressions(entity.columns, [entity.cursor])[0]
    if entity.horizon == "xmin":
        xmin = sa.text(XMIN_AFTER).bindparams(sa.bindparam("xmin_since", int(since)))
        return [*where, cursor.is_not(None), sa.and_(xmin)]
    return [*where, cursor >= sa.bindparam("since", since)]


def page(
    entity: SqlEntity,
    dialect: Dialect,
    since: Any | None,
    last: Sequence[Any] | None,
    rows: int,
) -> sa.Select[Any]:
    """Up to `rows` rows of the listing, past `last` (the previous page's last row's order
    values: the cursor's and the key's, or the key's alone for a full pass)."""
    order = order_of(entity, since is not None)
    where = listing_filter(entity, since)
    if last is not None:
        if since is not None and entity.horizon == "cursor":
            where = where[:-1]  # the cursor's `>= :since` is implied by `>= :after_0`
        where.append(after(order, last))
    select = (
        sa.select(*_labelled(entity.columns))
        .select_from(relation(entity.table, entity.query))
        .where(*where)
        .order_by(*order)
    )
    return _limit(select, rows, dialect)


def children(child: SqlChild, parents: Sequence[Any]) -> sa.Select[Any]:
    """The child rows of `parents` (key values), by parent then child key, each with its
    parent's key last (`PARENT_LABEL`)."""
    parent = sql(child.parent)
    return (
        sa.select(*_labelled(child.columns), parent.label(PARENT_LABEL))
        .select_from(relation(child.table, child.query))
        .where(parent.in_(sa.bindparam("parents", list(parents), expanding=True)))
        .order_by(parent, *_expressions(child.columns, child.key))
    )


def count(entity: SqlEntity, since: Any | None) -> sa.Select[Any]:
    """How many rows the listing holds."""
    return (
        sa.select(sa.func.count())
        .select_from(relation(entity.table, entity.query))
        .where(*listing_filter(entity, since))
    )


def high_water(entity: SqlEntity) -> sa.Select[Any]:
    """The highest cursor value among the rows a full listing holds."""
    cursor = _expressions(entity.columns, [entity.cursor])[0]
    return (
        sa.select(sa.func.max(cursor))
        .select_from(relation(entity.table, entity.query))
        .where(*listing_filter(entity, None))
    )


def probe(entity: SqlEntity, dialect: Dialect) -> sa.Select[Any]:
    """One non-NULL value of the cursor, as the driver returns it (SQLite: as text, the
    form its comparisons see)."""
    cursor = _expressions(entity.columns, [entity.cursor])[0]
    shown: ColumnElement[Any] = sa.cast(cursor, sa.Text()) if dialect == "sqlite" else cursor
    select = (
        sa.select(shown)
        .select_from(relation(entity.table, entity.query))
        .where(cursor.is_not(None))
    )
    return _limit(select, 1, dialect)


def column(entity: SqlEntity, one: SqlColumn, dialect: Dialect) -> sa.Select[Any]:
    """One column of the relation, for `check` to learn whether it exists."""
    select = sa.select(_labelled([one])[0]).select_from(relation(entity.table, entity.query))
    return _limit(select, 1, dialect)


def key_counts(entity: SqlEntity) -> sa.Select[Any]:
    """(rows, distinct keys) of the relation."""
    keys = _expressions(entity.columns, entity.key)
    rel = relation(entity.table, entity.query)
    distinct = sa.select(*(k.label(f"k{i}") for i, k in enumerate(keys))).select_from(rel)
    inner = distinct.distinct().subquery("keys")
    total = sa.select(sa.func.count()).select_from(relation(entity.table, entity.query))
    return sa.select(
        total.scalar_subquery(), sa.select(sa.func.count()).select_from(inner).scalar_subquery()
    )


def cursor_nulls(entity: SqlEntity) -> sa.Select[Any]:
    cursor = _expressions(entity.columns, [entity.cursor])[0]
    return (
        sa.select(sa.func.count())
        .select_from(relation(entity.table, entity.query))
        .where(cursor.is_(None))
    )
