"""The SQLite store's schema, its migrations, and the files it lives in.

The schema version is SQLite's `user_version`. Opening migrates forward, one
version per `BEGIN IMMEDIATE` transaction, so that several processes opening
at once migrate once. A database from a newer syncdeck is refused before
anything touches the file (read-only probe): its owner's data stays as it is.

Raises: `SchemaTooNew` for a newer database; `sqlite3.Error` for everything
else, which the store maps to `StoreError`.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from core.errors import SchemaTooNew

DB_FILENAME = "syncdeck.db"

MIGRATIONS: list[str] = [
    # 1: the orchestrator's state
    """
    CREATE TABLE services (
        name TEXT PRIMARY KEY,
        default_priority INTEGER NOT NULL,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        circuit TEXT NOT NULL DEFAULT 'closed',
        circuit_opened_at REAL,
        last_success_at REAL,
        last_run_id INTEGER,
        registered_at REAL NOT NULL,
        interval_s REAL,
        offset_s REAL,
        schedule_enabled INTEGER,
        health TEXT NOT NULL DEFAULT 'healthy',
        health_reasons TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        mode TEXT NOT NULL,
        priority INTEGER NOT NULL,
        state TEXT NOT NULL,
        source TEXT NOT NULL,
        requested_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        attempt INTEGER NOT NULL DEFAULT 1,
        not_before REAL,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        outcome TEXT,
        merged INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX requests_one_queued_per_service ON requests(service)
        WHERE state = 'queued';
    CREATE UNIQUE INDEX requests_one_running ON requests(state) WHERE state = 'running';
    CREATE INDEX requests_open ON requests(state, service)
        WHERE state IN ('queued', 'running');
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id INTEGER NOT NULL REFERENCES requests(id),
        service TEXT NOT NULL,
        requested_mode TEXT NOT NULL,
        mode TEXT NOT NULL,
        mode_reason TEXT NOT NULL DEFAULT '',
        attempt INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        holder TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        outcome TEXT,
        error_class TEXT,
        error TEXT,
        fetched INTEGER NOT NULL DEFAULT 0,
        inserted INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_service ON runs(service, id);
    CREATE INDEX runs_by_request ON runs(request_id, id);
    CREATE TABLE controls (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        dispatch_paused INTEGER NOT NULL DEFAULT 0,
        schedule_paused INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO controls (id) VALUES (1);
    CREATE TABLE lease (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        holder TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        acquired_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        renewed_at REAL NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        service TEXT,
        request_id INTEGER,
        run_id INTEGER,
        data TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2: creates nothing. The replica manages its own schema (`core.replica.schema`,
    # which adopts replica tables already in the file), so the version stays and
    # databases at 2 are current either way.
    "",
    # 3: what observers read of the runner: a run's latest progress, the published plan
    """
    ALTER TABLE runs ADD COLUMN progress TEXT;
    CREATE TABLE runner_plan (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        holder TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        published_at REAL NOT NULL,
        plan TEXT NOT NULL
    );
    """,
    # 4: an operator's priority on a queued request stands against scheduled merges
    "ALTER TABLE requests ADD COLUMN priority_set INTEGER NOT NULL DEFAULT 0;",
]
SCHEMA_VERSION = len(MIGRATIONS)


def prepare_private_path(path: Path) -> None:
    """The store holds business data: a directory or file made here is owner-only (0700,
    0600). One that exists is left as its owner set it: `--data-dir` on a shared directory
    (a 1777 spool, a group-readable project folder) must not change what others can do."""
    directory = path.parent
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    except FileExistsError:
        return
    os.close(fd)
    os.chmod(path, 0o600)


def too_new(path: Path, version: int) -> SchemaTooNew:
    return SchemaTooNew(
        f"{path} has schema version {version}, but this syncdeck knows only up to "
        f"{SCHEMA_VERSION}: upgrade syncdeck, or point it at another data directory"
    )


def refuse_newer_schema(path: Path) -> None:
    """Read the schema version read-only: a database from a newer syncdeck is left as is."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    if version > SCHEMA_VERSION:
        raise too_new(path, version)


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema up to `SCHEMA_VERSION` (another process may be doing the same)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise too_new(path, version)
    for target in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current < target:
                for statement in MIGRATIONS[target - 1].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
