"""The replica on SQLite: crash-safe batches on a file of its own or the store's.

Each batch is one `BEGIN IMMEDIATE` transaction holding its rows, its
quarantined records and the cursor that covers them (principle 7): a crash at
any instant leaves the cursor behind or at the rows that committed, never ahead
of them. A target owns its own connection and is used from the one thread that
opened it (sqlite3 refuses any other).

The schema is this module's own: created if missing (every statement `IF NOT
EXISTS`, so the tables the store's migration 2 made are adopted as they are)
when the first target is opened, and versioned in `replica_meta`, apart from
the store's `PRAGMA user_version`. A newer version than this syncdeck knows
raises `SchemaTooNew`, a damaged file or one that is not a database `StoreCorrupt`
(the store's message: it is the same file by default); SQLite's other errors
propagate as `sqlite3.Error`.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from core.entities import ENTITIES, EntitySpec
from core.errors import SchemaTooNew, StoreCorrupt
from core.replica.base import Fence
from core.replica.schema import SCHEMA_VERSION, SQLITE, entity_ddl, replica_ddl, upgrade_ddl
from core.replica.sqlite.target import SQLiteTarget
from core.store.sqlite.faults import is_corrupt


class SQLiteReplica:
    """The replica tables in the SQLite file at `path` (in practice the store's file, so
    other programs find the replica and the run history side by side)."""

    def __init__(
        self,
        path: Path,
        busy_timeout_ms: int = 30_000,
        *,
        shares_store: bool = False,
        builtin: bool = True,
    ) -> None:
        self.path = Path(path)
        self._builtin = ENTITIES if builtin else {}
        """The built-in entities, whose tables come with the shared ones (none when the
        configuration turns them off: a configured entity may then take their names)."""
        self._shares_store = shares_store
        """Whether the store's lease table is in this file, so that fences check it."""
        self._busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._ready: set[str] = set()
        """Entities whose tables this process has made sure of ("" for the shared tables)."""

    def target(self, spec: EntitySpec, fence: Fence | None = None) -> SQLiteTarget:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=self._busy_timeout_ms / 1000)
        try:
            db.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA temp_store = FILE")
            with self._lock:
                if "" not in self._ready:
                    self._create_schema(db, replica_ddl(SQLITE, self._builtin.values()))
                    self._ready.update(("", *self._builtin))
                if spec.name not in self._ready:  # a configured entity, or a plugin's
                    self._create_schema(db, entity_ddl(spec, SQLITE))
                    self._ready.add(spec.name)
        except sqlite3.DatabaseError as exc:
            db.close()
            if is_corrupt(exc):
                raise StoreCorrupt.of(self.path, exc) from exc
            raise
        except BaseException:
            db.close()
            raise
        return SQLiteTarget(db, spec, fence, self._shares_store)

    def evolve(self, specs: list[EntitySpec]) -> list[str]:
        if not self.path.exists():
            return []  # no replica yet: its tables are made whole when first opened
        from core.replica import evolve  # only a runner with configured entities needs it

        db = sqlite3.connect(self.path, isolation_level=None, timeout=self._busy_timeout_ms / 1000)
        try:
            planned = [evolve.plan(spec, SQLITE, _columns(db, spec)) for spec in specs]
            problems = [problem for _, found in planned for problem in found]
            statements = [statement for found, _ in planned for statement in found]
            if not problems and statements:
                self._create_schema(db, statements)
            return problems
        finally:
            db.close()

    def rebuild(self, spec: EntitySpec) -> None:
        if not self.path.exists():
            return
        db = sqlite3.connect(self.path, isolation_level=None, timeout=self._busy_timeout_ms / 1000)
        try:
            tables = [spec.table, *([spec.child.table] if spec.child else [])]
            self._create_schema(
                db, [f"DROP TABLE IF EXISTS {table}" for table in tables], spec.name
            )
        finally:
            db.close()
        with self._lock:
            self._ready.discard(spec.name)

    def _create_schema(
        self, db: sqlite3.Connection, statements: list[str], forget: str | None = None
    ) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = _schema_version(db)
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"the replica in {self.path} has schema version {version}, but this "
                    f"syncdeck knows only up to {SCHEMA_VERSION}: upgrade syncdeck"
                )
            for statement in statements:
                db.execute(statement)
            if version < SCHEMA_VERSION and _has_table(db, "sync_state"):
                columns = {str(r[1]) for r in db.execute("PRAGMA table_info(sync_state)")}
                for statement in upgrade_ddl(SQLITE, "horizon" in columns):
                    db.execute(statement)
            if forget is not None and _has_table(db, "sync_state"):
                db.execute("DELETE FROM sync_state WHERE entity = ?", (forget,))
                if _has_table(db, "delete_candidates"):
                    db.execute("DELETE FROM delete_candidates WHERE entity = ?", (forget,))
            if _has_table(db, "replica_meta"):
                db.execute(
                    "INSERT INTO replica_meta (id, schema_version) VALUES (1, ?) "
                    "ON CONFLICT (id) DO UPDATE SET schema_version = excluded.schema_version",
                    (SCHEMA_VERSION,),
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def _columns(db: sqlite3.Connection, spec: EntitySpec) -> dict[str, dict[str, str]]:
    """The columns of `spec`'s tables that exist, with their declared types."""
    from core.replica import evolve

    found = {}
    for table in evolve.wanted_columns(spec, SQLITE):
        rows = db.execute(f"PRAGMA table_info({table})").fetchall()
        if rows:
            found[table] = {str(r[1]): str(r[2]).lower() for r in rows}
    return found


def _schema_version(db: sqlite3.Connection) -> int:
    """0 when the replica has no marker yet (a new file, or tables the store made)."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'replica_meta'").fetchone():
        return 0
    row = db.execute("SELECT schema_version FROM replica_meta WHERE id = 1").fetchone()
    return 0 if row is None else int(row[0])
