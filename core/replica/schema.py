"""The replica's DDL, generated from the one entity list for a given SQL dialect.

One generator for every backend: a dialect only names its types (the column
kinds of `core.entities`, plus the digest's bytes and the quarantine's
generated id) and, where it has them, the schema that holds the tables
(PostgreSQL: `postgres(schema)`). Every statement is `IF NOT EXISTS`, so creating the schema over
tables an older syncdeck made (the store's migration 2, same definitions) is a
no-op. The tables are a public contract (other programs read them): a change
here is a new `SCHEMA_VERSION` with a migration, never an edit of the tables.

Per entity: its table (the key `NOT NULL PRIMARY KEY`, the other columns
nullable but the cursor, then `row_hash`, `synced_at`, `deleted_at`), an index
on its cursor, and its child table (every column `NOT NULL`, a composite key).
Beside them: `sync_state`, `quarantine`, and `replica_meta`, which holds the
replica's own schema version (independent of the coordination store's).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from core.entities import ENTITIES, ColumnKind, EntitySpec

SCHEMA_VERSION = 2
"""The replica schema's version, kept in `replica_meta`. 2 added `sync_state.horizon`
and `delete_candidates` (`upgrade_ddl`)."""


class Dialect(msgspec.Struct, frozen=True):
    """How one SQL dialect spells the replica's types."""

    name: str
    types: dict[ColumnKind, str]
    blob: str
    real_seconds: str
    """Epoch seconds in `sync_state`."""
    identity_key: str
    """A generated integer primary key that never reuses a value."""
    schema: str = ""
    """The schema that holds the tables ("": the connection's default, as on SQLite)."""

    def qualified(self, name: str) -> str:
        """A table's name as the statements spell it (an index name is never qualified: it
        lives in its table's schema)."""
        return f"{self.schema}.{name}" if self.schema else name


SQLITE = Dialect(
    name="sqlite",
    types={
        "text": "TEXT",
        "real": "REAL",
        "integer": "INTEGER",
        "decimal": "TEXT",  # exact: SQLite's NUMERIC would make a float of it
        "boolean": "INTEGER",
        "timestamp": "TEXT",
        "date": "TEXT",
        "json": "TEXT",
    },
    blob="BLOB",
    real_seconds="REAL",
    identity_key="INTEGER PRIMARY KEY AUTOINCREMENT",
)


def postgres(schema: str) -> Dialect:
    """PostgreSQL, the tables in `schema` (a lower-case identifier that needs no quoting)."""
    return Dialect(
        name="postgresql",
        types={
            "text": "TEXT",
            "real": "DOUBLE PRECISION",
            "integer": "BIGINT",
            "decimal": "NUMERIC",
            "boolean": "BOOLEAN",
            "timestamp": "TEXT",
            "date": "TEXT",
            "json": "TEXT",
        },
        blob="BYTEA",
        real_seconds="DOUBLE PRECISION",
        identity_key="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        schema=schema,
    )


def entity_ddl(spec: EntitySpec, dialect: Dialect) -> list[str]:
    """CREATE statements for an entity's replica table, its cursor index and its child table."""
    cols = []
    for name, kind in spec.fields:
        sql_type = dialect.types[kind]
        if name == spec.key:
            cols.append(f"{name} {sql_type} NOT NULL PRIMARY KEY")
        elif name == spec.cursor:
            cols.append(f"{name} {sql_type} NOT NULL")
        else:
            cols.append(f"{name} {sql_type}")
    text = dialect.types["text"]
    cols += [
        f"row_hash {dialect.blob} NOT NULL",
        f"synced_at {text} NOT NULL",
        f"deleted_at {text}",
    ]
    table = dialect.qualified(spec.table)
    statements = [
        f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})",
        f"CREATE INDEX IF NOT EXISTS {spec.table}_by_cursor ON {table}({spec.cursor})",
    ]
    child = spec.child
    if child is not None:
        # A built-in child's columns are all NOT NULL; a configured one's only its key.
        strict = spec.source is None
        child_cols = [f"{child.parent_column} {text} NOT NULL"] + [
            f"{name} {dialect.types[kind]}"
            + (" NOT NULL" if strict or name in child.key_columns else "")
            for name, kind in child.fields
        ]
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {dialect.qualified(child.table)} "
            f"({', '.join(child_cols)}, "
            f"PRIMARY KEY ({', '.join(child.key_columns)}))"
        )
        if not strict:  # its rows are replaced by parent: find them by the parent's key
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {child.table}_by_parent "
                f"ON {dialect.qualified(child.table)}({child.parent_column})"
            )
    return statements


def bookkeeping_ddl(dialect: Dialect) -> list[str]:
    """`sync_state`, `quarantine` and `replica_meta`."""
    text, integer, seconds = dialect.types["text"], dialect.types["integer"], dialect.real_seconds
    q = dialect.qualified
    return [
        f"CREATE TABLE IF NOT EXISTS {q('sync_state')} (entity {text} PRIMARY KEY, "
        f"cursor {text}, last_full_at {seconds}, mapping_version {integer} NOT NULL DEFAULT 0, "
        f"needs_full {text}, updated_at {seconds} NOT NULL, horizon {text})",
        _candidates_ddl(dialect),
        f"CREATE TABLE IF NOT EXISTS {q('quarantine')} (id {dialect.identity_key}, "
        f"entity {text} NOT NULL, record_key {text}, payload {text} NOT NULL, "
        f"reason {text} NOT NULL, run_id {integer}, at {text} NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS quarantine_by_entity ON {q('quarantine')}(entity, id)",
        f"CREATE TABLE IF NOT EXISTS {q('replica_meta')} (id {integer} PRIMARY KEY "
        f"CHECK (id = 1), schema_version {integer} NOT NULL)",
    ]


def _candidates_ddl(dialect: Dialect) -> str:
    """Rows a full pass did not list, from a source whose listing may skip a live row
    (offset or page pagination while rows change): deleted only when the next complete
    full pass misses them too, or their own URL answers 404."""
    text, seconds = dialect.types["text"], dialect.real_seconds
    return (
        f"CREATE TABLE IF NOT EXISTS {dialect.qualified('delete_candidates')} "
        f"(entity {text} NOT NULL, sync_key {text} NOT NULL, since {seconds} NOT NULL, "
        "PRIMARY KEY (entity, sync_key))"
    )


def upgrade_ddl(dialect: Dialect, has_horizon: bool) -> list[str]:
    """What brings the bookkeeping of an older replica (version 1, or tables the store's
    migration 2 made) up to `SCHEMA_VERSION`, run after `bookkeeping_ddl`; `has_horizon`
    says whether `sync_state` has its column already."""
    alter = f"ALTER TABLE {dialect.qualified('sync_state')} ADD COLUMN horizon"
    return [
        _candidates_ddl(dialect),
        *([] if has_horizon else [f"{alter} {dialect.types['text']}"]),
    ]


def replica_ddl(dialect: Dialect, specs: Iterable[EntitySpec] | None = None) -> list[str]:
    """Every statement that creates the replica schema (the built-in entities by default)."""
    statements = []
    for spec in ENTITIES.values() if specs is None else specs:
        statements += entity_ddl(spec, dialect)
    return statements + bookkeeping_ddl(dialect)
