"""How a configured entity's replica tables follow its mapping, decided once for every
backend.

A column the mapping adds is added in place (nullable; the next full run fills it, as
the changed `mapping_version` asks for one). A column it removes, renames or retypes is
refused with one line naming it and the command that rebuilds the table.
A backend reads its tables' columns and runs the statements; nothing is changed while
any problem stands. Pure functions; nothing here raises.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.entities import EntitySpec
from core.replica.schema import Dialect

Columns = Mapping[str, str]
"""A table's columns and their SQL types, lower case, as the database reports them."""


def wanted_columns(spec: EntitySpec, dialect: Dialect) -> dict[str, dict[str, str]]:
    """Each of `spec`'s tables and the columns (with their types) the mapping gives it."""
    text = dialect.types["text"]
    tables = {
        spec.table: {
            **{name: dialect.types[kind] for name, kind in spec.fields},
            "row_hash": dialect.blob,
            "synced_at": text,
            "deleted_at": text,
        }
    }
    child = spec.child
    if child is not None:
        tables[child.table] = {
            child.parent_column: text,
            **{name: dialect.types[kind] for name, kind in child.fields},
        }
    return {t: {c: kind.lower() for c, kind in cols.items()} for t, cols in tables.items()}


def plan(
    spec: EntitySpec, dialect: Dialect, existing: Mapping[str, Columns]
) -> tuple[list[str], list[str]]:
    """(the ALTER statements that add columns, the problems that forbid any change) for the
    tables of `spec` that exist; a table that does not is created as a whole elsewhere."""
    statements: list[str] = []
    problems: list[str] = []
    rebuild = f"rebuild it with `syncdeck replica rebuild {spec.name}` (its next run is full)"
    for table, wanted in wanted_columns(spec, dialect).items():
        have = existing.get(table)
        if have is None:
            continue
        for column, sql_type in have.items():
            if column not in wanted:
                problems.append(
                    f"replica table {table}: column {column} is not in entity {spec.name}'s "
                    f"mapping any more (removed or renamed); {rebuild}"
                )
            elif not _same_type(sql_type, wanted[column]):
                problems.append(
                    f"replica table {table}: column {column} is {sql_type}, the mapping "
                    f"makes it {wanted[column]}; {rebuild}"
                )
        statements += [
            f"ALTER TABLE {dialect.qualified(table)} ADD COLUMN {column} {sql_type}"
            for column, sql_type in wanted.items()
            if column not in have
        ]
    return statements, problems


def _same_type(have: str, wanted: str) -> bool:
    """PostgreSQL reports `numeric(20,2)` for a NUMERIC column a person made by hand."""
    return have == wanted or have.split("(")[0] == wanted
