"""The PostgreSQL replica's statements for one entity, built once per target.

Kept apart from `core.replica.postgres.replica` (which runs them, in its
transactions) so that each statement can be read whole. Every statement is
set-based over a session's temporary tables:

- `incoming` (the batch's rows) and `incoming_children` (their child rows, with
  their order in the batch) are emptied at every commit or rollback;
- `changed` (the keys a batch writes, and whether each is new), for entities
  with children, is emptied likewise;
- `seen` (the keys a full pass listed) and `listed` (a `verify` listing's keys
  and digests) live as long as the pass.

Table names are schema-qualified; the temporary ones are spelled `pg_temp.`,
so a replica table of the same name can never be taken for one. The
statements raise psycopg's errors (a NOT NULL child column, for instance).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from core.entities import ColumnKind, EntitySpec

COPY_TYPES: dict[ColumnKind, str] = {
    "text": "text",
    "real": "float8",
    "integer": "int8",
    "decimal": "numeric",
    "boolean": "bool",
    "timestamp": "text",
    "date": "text",
    "json": "text",
}
"""The binary COPY type of each column kind (`core.replica.schema.postgres`'s types)."""

SQL_TYPES: dict[ColumnKind, str] = {
    "text": "text",
    "real": "double precision",
    "integer": "bigint",
    "decimal": "numeric",
    "boolean": "boolean",
    "timestamp": "text",
    "date": "text",
    "json": "text",
}


def numeric_adapter(kinds: list[ColumnKind]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]] | None:
    """Rows carry decimals as exact text (`core.sync.kinds`); binary COPY wants `Decimal`.
    None when no column is a decimal."""
    where = [i for i, kind in enumerate(kinds) if kind == "decimal"]
    if not where:
        return None

    def adapt(row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for i in where:
            if values[i] is not None:
                values[i] = Decimal(values[i])
        return tuple(values)

    return adapt


def _binary(table: str, columns: tuple[str, ...] | list[str]) -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"


class Statements:
    """Every statement a target runs for `spec`'s tables in `schema`."""

    def __init__(self, spec: EntitySpec, schema: str) -> None:
        k = spec.key
        t = f"{schema}.{spec.table}"
        cols = spec.columns
        self.sync_state = f"{schema}.sync_state"
        fields = ", ".join(f"{name} {SQL_TYPES[kind]}" for name, kind in spec.fields)
        self.temp_tables: dict[str, list[str]] = {
            "incoming": [
                f"CREATE TEMP TABLE IF NOT EXISTS incoming ({fields}, row_hash bytea) "
                "ON COMMIT DELETE ROWS"
            ],
            "seen": ["CREATE TEMP TABLE IF NOT EXISTS seen (key text)"],
            "listed": [
                "CREATE TEMP TABLE IF NOT EXISTS listed "
                "(key text, row_hash bytea, cursor text, seq bigint)"
            ],
        }
        """What each job needs, created when first needed (a target that only reads its
        state, as `resolve_mode` does, creates none: each costs a catalog commit)."""
        self.incoming_types = [COPY_TYPES[kind] for _, kind in spec.fields] + ["bytea"]
        self._adapt = numeric_adapter([kind for _, kind in spec.fields])
        self._adapt_child = numeric_adapter(
            ["text", *(kind for _, kind in spec.child.fields)] if spec.child else []
        )
        self.copy_incoming = _binary("pg_temp.incoming", [*cols, "row_hash"])
        self.copy_new = _binary(t, [*cols, "row_hash", "synced_at"])
        self.copy_seen = _binary("pg_temp.seen", ["key"])
        self.copy_listed = _binary("pg_temp.listed", ["key", "row_hash", "cursor", "seq"])
        self.copy_quarantine = _binary(
            f"{schema}.quarantine", ["entity", "record_key", "payload", "reason", "run_id", "at"]
        )

        listed = ", ".join(cols)
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols[1:])
        on_conflict = (
            f"ON CONFLICT ({k}) DO UPDATE SET {updates}, row_hash = EXCLUDED.row_hash, "
            "synced_at = EXCLUDED.synced_at, deleted_at = NULL"
        )
        # New, changed, or soft-deleted (a row listed again comes back to life).
        to_write = (
            f"FROM pg_temp.incoming i LEFT JOIN {t} r ON r.{k} = i.{k} "
            f"WHERE r.{k} IS NULL OR r.row_hash <> i.row_hash OR r.deleted_at IS NOT NULL"
        )
        self.upsert = (
            f"WITH changed AS MATERIALIZED (SELECT i.*, r.{k} IS NULL AS is_new {to_write}), "
            f"written AS (INSERT INTO {t} ({listed}, row_hash, synced_at, deleted_at) "
            f"SELECT {listed}, row_hash, %s, NULL FROM changed {on_conflict} RETURNING 1) "
            "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new), "
            "(SELECT count(*) FROM written) FROM changed"
        )

        child = spec.child
        self.child = child
        self.child_types: list[str] = []
        if child is not None:
            c = f"{schema}.{child.table}"
            p = child.parent_column
            child_fields = ", ".join(f"{name} {SQL_TYPES[kind]}" for name, kind in child.fields)
            self.temp_tables["incoming"] += [
                f"CREATE TEMP TABLE IF NOT EXISTS incoming_children ({p} text, {child_fields}, "
                "seq bigint) ON COMMIT DELETE ROWS",
                "CREATE TEMP TABLE IF NOT EXISTS changed (key text PRIMARY KEY, is_new boolean) "
                "ON COMMIT DELETE ROWS",
            ]
            self.child_types = ["text", *(COPY_TYPES[kind] for _, kind in child.fields), "int8"]
            child_cols = [p, *child.columns]
            self.copy_children = _binary("pg_temp.incoming_children", [*child_cols, "seq"])
            self.copy_new_children = _binary(c, child_cols)
            self.classify_into_changed = (
                "WITH found AS (INSERT INTO pg_temp.changed (key, is_new) "
                f"SELECT i.{k}, r.{k} IS NULL {to_write} RETURNING is_new) "
                "SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) "
                "FROM found"
            )
            picked = ", ".join(f"i.{col}" for col in cols)
            self.upsert_changed = (
                f"INSERT INTO {t} ({listed}, row_hash, synced_at, deleted_at) "
                f"SELECT {picked}, i.row_hash, %s, NULL FROM pg_temp.incoming i "
                f"JOIN pg_temp.changed ch ON ch.key = i.{k} {on_conflict}"
            )
            self.delete_children = (
                f"DELETE FROM {c} d USING pg_temp.changed ch WHERE d.{p} = ch.key"
            )
            # A child listed twice under one parent: its later values (as INSERT OR REPLACE).
            distinct = ", ".join(f"ic.{col}" for col in child.key_columns)
            self.insert_children = (
                f"INSERT INTO {c} ({', '.join(child_cols)}) "
                f"SELECT DISTINCT ON ({distinct}) {', '.join(f'ic.{x}' for x in child_cols)} "
                f"FROM pg_temp.incoming_children ic JOIN pg_temp.changed ch ON ch.key = ic.{p} "
                f"ORDER BY {distinct}, ic.seq DESC"
            )

        self.read_state = (
            f"SELECT cursor, last_full_at, mapping_version, needs_full, horizon "
            f"FROM {self.sync_state} WHERE entity = %s"
        )
        self.set_horizon = (
            f"INSERT INTO {self.sync_state} (entity, horizon, updated_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (entity) DO UPDATE SET horizon = EXCLUDED.horizon, "
            "updated_at = EXCLUDED.updated_at"
        )
        self.ensure_state = (
            f"INSERT INTO {self.sync_state} (entity, updated_at) VALUES (%s, %s) "
            "ON CONFLICT (entity) DO NOTHING"
        )
        self.move_cursor = (
            f"INSERT INTO {self.sync_state} AS s (entity, cursor, updated_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (entity) DO UPDATE SET cursor = EXCLUDED.cursor, "
            "updated_at = EXCLUDED.updated_at "
            'WHERE s.cursor IS NULL OR s.cursor COLLATE "C" < EXCLUDED.cursor COLLATE "C"'
        )
        self.live_rows = f"SELECT count(*) FROM {t} WHERE deleted_at IS NULL"
        self.any_row = f"SELECT 1 FROM {t} LIMIT 1"
        unseen = (
            f"r.deleted_at IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM pg_temp.seen s WHERE s.key = r.{k})"
        )
        candidates = f"{schema}.delete_candidates"
        self.reconcile = f"UPDATE {t} r SET deleted_at = %s WHERE {unseen}"
        self.reconcile_twice = (
            f"UPDATE {t} r SET deleted_at = %s WHERE {unseen} AND (r.{k} = ANY(%s) OR EXISTS "
            f"(SELECT 1 FROM {candidates} c WHERE c.entity = %s AND c.sync_key = r.{k}))"
        )
        self.forget_candidates = f"DELETE FROM {candidates} WHERE entity = %s"
        self.keep_candidates = (
            f"INSERT INTO {candidates} (entity, sync_key, since) "
            f"SELECT %s, r.{k}, %s FROM {t} r WHERE {unseen}"
        )
        self.missed = (
            f"SELECT r.{k} FROM {t} r WHERE {unseen} AND NOT EXISTS "
            f"(SELECT 1 FROM {candidates} c WHERE c.entity = %s AND c.sync_key = r.{k}) LIMIT %s"
        )
        self.latest_listed = (
            "CREATE TEMP TABLE latest ON COMMIT DROP AS "
            "SELECT DISTINCT ON (key) key, row_hash, cursor "
            "FROM pg_temp.listed ORDER BY key, seq DESC; ANALYZE pg_temp.latest"
        )
        # Drift is what the replica's cursor covers; rows changed since are pending (lag).
        covered = 'COALESCE(l.cursor < %(cursor)s COLLATE "C", false)'
        absent = f"(r.{k} IS NULL OR r.deleted_at IS NOT NULL)"
        joined = f"FROM pg_temp.latest l LEFT JOIN {t} r ON r.{k} = l.key"
        self.drift = {
            "missing": f"SELECT l.key {joined} WHERE {absent} AND {covered}",
            "different": f"SELECT l.key {joined} WHERE NOT {absent} "
            f"AND r.row_hash <> l.row_hash AND {covered}",
            "pending": f"SELECT l.key {joined} WHERE ({absent} OR r.row_hash <> l.row_hash) "
            f"AND NOT {covered}",
            "pending_deletion": f"SELECT r.{k} FROM {t} r WHERE r.deleted_at IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM pg_temp.latest l WHERE l.key = r.{k})",
        }
        self.pending_oldest = (
            'SELECT MIN(cursor COLLATE "C") FROM pg_temp.latest WHERE key IN ({pending})'
        )

    def adapted(self, values: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """A batch's rows as binary COPY takes them (decimals as `Decimal`)."""
        adapt = self._adapt
        return values if adapt is None else list(map(adapt, values))

    def adapted_children(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        adapt = self._adapt_child
        return rows if adapt is None else list(map(adapt, rows))
