"""`run_check`: probes one entity's mapping against its database, step by step, each in
its own read-only transaction (`Reader.read`), and says what it found as a `SqlCheck`.

A step that fails is a line in `SqlCheck.problems` (the error's one line) and leaves its
fields None or empty; the others still run. The exception is a relation that cannot be
read at all (an unknown table, a query that fails with no column at all): every step
would fail with the same words, and the first one's line is the whole answer. So
`run_check` raises nothing for what the database answers, a refused connection included.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core.errors import SourceError, SourceUnavailable
from core.sources.sql import dialects, statements
from core.sources.sql.check import SqlCheck
from core.sources.sql.mapping import SqlColumn, SqlEntity
from core.sources.sql.reader import Reader

SAMPLE_ROWS = 3
FAILED = (SourceError, SourceUnavailable)


def _type_names(conn: sa.Connection, dialect: str, description: Any) -> list[str | None]:
    """The driver's name for each column's type, where it has one."""
    codes = [d[1] for d in description or ()]
    if dialect == "postgresql":
        types = getattr(conn.connection.dbapi_connection, "adapters", None)
        registry = getattr(types, "types", None)
        names: list[str | None] = []
        for code in codes:
            info = registry.get(code) if registry is not None else None
            names.append(str(info.name) if info is not None else str(code))
        return names
    if dialect == "mysql":
        from pymysql.constants import FIELD_TYPE

        known = {v: k for k, v in vars(FIELD_TYPE).items() if isinstance(v, int)}
        return [known.get(code, str(code)) for code in codes]
    return [None for _ in codes]


def _time_zone(reader: Reader, entity: SqlEntity, problems: list[str]) -> str | None:
    query = dialects.TIME_ZONE[reader.dialect]
    if query is None:
        return None

    def work(conn: sa.Connection) -> str:
        row = conn.exec_driver_sql(query).one()
        shown = [str(v) for v in row if v is not None]
        if reader.dialect == "mysql" and len(shown) == 2:
            return f"{shown[0]} (system: {shown[1]})"
        return " / ".join(shown)

    try:
        return reader.read(entity.name, "time zone", work)
    except FAILED as exc:
        problems.append(str(exc))
        return None


def _runs(reader: Reader, entity: SqlEntity, what: str, select: sa.Select[Any]) -> bool:
    def work(conn: sa.Connection) -> None:
        conn.execute(select).all()

    try:
        reader.read(entity.name, what, work)
        return True
    except FAILED:
        return False


def run_check(reader: Reader, entity: SqlEntity, zone: str, source_name: str) -> SqlCheck:
    problems: list[str] = []
    time_zone = _time_zone(reader, entity, problems)
    names = [c.name for c in entity.columns]
    select = statements.page(entity, reader.dialect, None, None, SAMPLE_ROWS)

    def sample(conn: sa.Connection) -> tuple[list[tuple[Any, ...]], list[str | None]]:
        result = conn.execute(select)
        types = _type_names(conn, reader.dialect, result.cursor.description)
        return [tuple(row) for row in result], types

    rows: list[tuple[Any, ...]] = []
    types: dict[str, str] = {}
    try:
        rows, driver_types = reader.read(entity.name, "sample", sample)
        runs = True
    except FAILED as exc:
        problems.append(str(exc))
        runs, driver_types = False, [None for _ in names]
    present, missing = list(names), []
    relation_fails = not runs and not _runs(
        reader, entity, "relation", statements.column(entity, SqlColumn("one", "1"), reader.dialect)
    )
    if relation_fails:
        present = []
    elif not runs:  # which columns fail?
        present = []
        for one in entity.columns:
            if _runs(
                reader, entity, f"column {one.name}", statements.column(entity, one, reader.dialect)
            ):
                present.append(one.name)
            else:
                missing.append(one.name)
    for i, name in enumerate(names):
        found = driver_types[i] if i < len(driver_types) else None
        if found is None:
            value = next((row[i] for row in rows if row[i] is not None), None)
            found = type(value).__name__ if value is not None else None
        if found is not None:
            types[name] = found

    def scalar(what: str, select: sa.Select[Any]) -> Any:
        if relation_fails:
            return None
        try:
            return reader.read(entity.name, what, lambda conn: conn.execute(select).one())
        except FAILED as exc:
            problems.append(str(exc))
            return None

    total = scalar("count", statements.count(entity, None))
    keys = scalar("key uniqueness", statements.key_counts(entity))
    nulls = scalar("cursor NULLs", statements.cursor_nulls(entity))
    distinct = int(keys[1]) if keys is not None else None
    return SqlCheck(
        entity=entity.name,
        source=source_name,
        dialect=reader.dialect,
        database_time_zone=time_zone,
        zone=zone,
        runs=runs,
        columns_present=tuple(present),
        columns_missing=tuple(missing),
        column_types=types,
        rows=int(total[0]) if total is not None else None,
        distinct_keys=distinct,
        key_unique=None if keys is None else int(keys[0]) == distinct,
        cursor_nulls=int(nulls[0]) if nulls is not None else None,
        sample=tuple(rows),
        problems=tuple(problems),
    )
