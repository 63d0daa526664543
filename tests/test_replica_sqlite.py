"""What only the SQLite replica does: its schema, on a file of its own or the store's.

The replica tables are a public contract (other programs read them), so the tables the
generated DDL makes are compared with the ones syncdeck has always made (the store's
migration 2, frozen below), column by column and index by index; and a database made by
that migration is adopted as it is. The behaviour every backend shares is in
`tests/contract/test_replica_contract.py`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.entities import ENTITIES
from core.errors import SchemaTooNew
from core.replica.schema import SCHEMA_VERSION, SQLITE
from core.replica.sqlite import SQLiteReplica
from core.store import SQLiteStore
from core.sync.writer import RunWriter

MIGRATION_2 = """
CREATE TABLE customers (
    id TEXT NOT NULL PRIMARY KEY, name TEXT, email TEXT, country TEXT, credit_limit REAL,
    updated_at TEXT NOT NULL, row_hash BLOB NOT NULL, synced_at TEXT NOT NULL, deleted_at TEXT
);
CREATE INDEX customers_by_cursor ON customers(updated_at);
CREATE TABLE products (
    sku TEXT NOT NULL PRIMARY KEY, name TEXT, category TEXT, unit TEXT, active INTEGER,
    weight_kg REAL, updated_at TEXT NOT NULL, row_hash BLOB NOT NULL, synced_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE INDEX products_by_cursor ON products(updated_at);
CREATE TABLE prices (
    id TEXT NOT NULL PRIMARY KEY, sku TEXT, currency TEXT, amount REAL, valid_from TEXT,
    updated_at TEXT NOT NULL, row_hash BLOB NOT NULL, synced_at TEXT NOT NULL, deleted_at TEXT
);
CREATE INDEX prices_by_cursor ON prices(updated_at);
CREATE TABLE orders (
    id TEXT NOT NULL PRIMARY KEY, customer_id TEXT, status TEXT, currency TEXT, total REAL,
    ordered_at TEXT, updated_at TEXT NOT NULL, row_hash BLOB NOT NULL, synced_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE INDEX orders_by_cursor ON orders(updated_at);
CREATE TABLE order_lines (
    order_id TEXT NOT NULL, line_no INTEGER NOT NULL, sku TEXT NOT NULL,
    quantity INTEGER NOT NULL, unit_price REAL NOT NULL, PRIMARY KEY (order_id, line_no)
);
CREATE TABLE sync_state (
    entity TEXT PRIMARY KEY, cursor TEXT, last_full_at REAL,
    mapping_version INTEGER NOT NULL DEFAULT 0, needs_full TEXT, updated_at REAL NOT NULL
);
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT, entity TEXT NOT NULL, record_key TEXT,
    payload TEXT NOT NULL, reason TEXT NOT NULL, run_id INTEGER, at TEXT NOT NULL
);
CREATE INDEX quarantine_by_entity ON quarantine(entity, id);
"""
"""The replica tables as the store's migration 2 made them, up to this change."""

TABLES = (*ENTITIES, "order_lines", "sync_state", "quarantine", "delete_candidates")


@contextlib.contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def describe(path: Path) -> dict[str, Any]:
    """Per table: its columns (name, type, NOT NULL, default, key position) and its indexes
    (name, unique, columns), and whether it is AUTOINCREMENT."""
    found: dict[str, Any] = {}
    with connect(path) as db:
        for table in TABLES:
            columns = [tuple(r[1:6]) for r in db.execute(f"PRAGMA table_info({table})")]
            indexes = sorted(
                (name, unique, [r[2] for r in db.execute(f"PRAGMA index_info({name})")])
                for _, name, unique, *_ in db.execute(f"PRAGMA index_list({table})")
            )
            row = db.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
            found[table] = row and (columns, indexes, "AUTOINCREMENT" in row[0].upper())
    return found


def open_target(path: Path, name: str = "customers") -> None:
    SQLiteReplica(path).target(ENTITIES[name]).close()


def test_the_generated_schema_is_the_one_migration_2_made_upgraded(tmp_path: Path) -> None:
    """Replica schema 2 adds `sync_state.horizon` and `delete_candidates` to what the
    store's migration 2 made: an old file, once opened, is the schema made fresh."""
    frozen, generated = tmp_path / "frozen.db", tmp_path / "generated.db"
    with connect(frozen) as db:
        db.executescript(MIGRATION_2)
    before = describe(frozen)
    open_target(generated)
    assert describe(generated) != before
    open_target(frozen)
    assert describe(generated) == describe(frozen)
    columns, _, _ = describe(frozen)["sync_state"]
    assert [c[0] for c in columns][-1] == "horizon"
    with connect(frozen) as db:
        assert db.execute("SELECT schema_version FROM replica_meta").fetchone() == (2,)


def test_the_replica_tables_are_the_entity_specs(tmp_path: Path) -> None:
    path = tmp_path / "replica.db"
    open_target(path)
    tables = describe(path)
    for spec in ENTITIES.values():
        columns, _, _ = tables[spec.table]
        assert [c[0] for c in columns] == [*spec.columns, "row_hash", "synced_at", "deleted_at"]
        assert [c[0] for c in columns if c[4]] == [spec.key]
        types = {c[0]: c[1] for c in columns}
        for column in spec.columns:
            assert types[column] == SQLITE.types[spec.kinds[column]], (spec.name, column)
        if spec.child is not None:
            child = spec.child
            columns, _, _ = tables[child.table]
            assert [c[0] for c in columns] == [child.parent_column, *child.columns]
            keys = sorted((c[4], c[0]) for c in columns if c[4])
            assert tuple(c for _, c in keys) == child.key_columns


async def test_a_store_made_by_migration_2_is_adopted_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "syncdeck.db"
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    with connect(path) as db:
        db.executescript(MIGRATION_2)  # what the store's migration 2 created before 0.2
        db.execute(
            "INSERT INTO customers VALUES ('C1', 'Ann', NULL, 'DE', 5.0, "
            "'2026-01-01T00:00:00Z', x'00', '2026-01-01T00:00:00Z', NULL)"
        )
        db.execute(
            "INSERT INTO sync_state (entity, cursor, mapping_version, updated_at) "
            "VALUES ('customers', '2026-01-01T00:00:00Z', 1, 0)"
        )
        user_version = db.execute("PRAGMA user_version").fetchone()
    before = describe(path)
    target = SQLiteReplica(path).target(ENTITIES["customers"])
    try:
        assert target.state().cursor == "2026-01-01T00:00:00Z"
        assert target.live_rows() == 1
        record = {
            "id": "C2",
            "name": "Bob",
            "email": None,
            "country": "FR",
            "credit_limit": 1.0,
            "updated_at": "2026-01-02T00:00:00Z",
        }
        writer = RunWriter(target, ENTITIES["customers"])
        assert writer.write([record], 1).counts.inserted == 1
    finally:
        target.close()
    fresh = tmp_path / "fresh.db"
    open_target(fresh)
    assert describe(path) != before
    assert describe(path) == describe(fresh)  # the upgrade to replica schema 2, rows kept
    with connect(path) as db:
        assert db.execute("SELECT schema_version FROM replica_meta").fetchall() == [
            (SCHEMA_VERSION,)
        ]
        assert db.execute("PRAGMA user_version").fetchone() == user_version  # the store's own
    store = SQLiteStore(path)  # and the store still opens it
    await store.open()
    await store.close()


def test_a_replica_from_a_newer_syncdeck_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "replica.db"
    open_target(path)
    with connect(path) as db:
        db.execute("UPDATE replica_meta SET schema_version = ?", (SCHEMA_VERSION + 1,))
        db.execute("DROP TABLE order_lines")
    with pytest.raises(SchemaTooNew, match="upgrade syncdeck"):
        open_target(path, "orders")
    with connect(path) as db:
        assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'order_lines'").fetchall() == []
