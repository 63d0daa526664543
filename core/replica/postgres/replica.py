"""The replica on PostgreSQL: the same tables and promises as on SQLite, in one schema.

`PostgresReplica` opens one synchronous psycopg connection per target (a
target lives on one worker thread; psycopg's synchronous API never touches an
event loop; see `target` for its batches). The tables live in the replica's
schema (`[replica] schema`, by default the store's), created when the first
target opens: under an advisory lock, so concurrent openers create it once, and
versioned in its own `replica_meta` row, apart from the store's `schema_version`.
A newer version than this syncdeck knows raises `SchemaTooNew` before any DDL runs.

Errors: `SchemaTooNew`; psycopg's errors propagate unchanged; `OSError` for an
unreadable password file.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg

from core.entities import ENTITIES, EntitySpec
from core.errors import SchemaTooNew
from core.replica import evolve
from core.replica.base import Fence
from core.replica.postgres.target import Conn, PostgresTarget
from core.replica.schema import SCHEMA_VERSION, entity_ddl, postgres, replica_ddl, upgrade_ddl
from core.store.postgres.connection import redact
from core.store.postgres.schema import lock_key

IDLE_IN_TRANSACTION_S = 60
"""A frozen writer's transaction (a process stopped mid-batch) ends after this long."""


class PostgresReplica:
    """The replica tables in `schema` of the PostgreSQL database at `url`."""

    def __init__(
        self,
        url: str,
        schema: str = "syncdeck",
        *,
        password_file: Path | None = None,
        connect_timeout_s: float = 10.0,
        lease_schema: str | None = None,
        builtin: bool = True,
    ) -> None:
        self.url = url
        self._builtin = ENTITIES if builtin else {}
        """The built-in entities, whose tables come with the shared ones (none when the
        configuration turns them off: a configured entity may then take their names)."""
        self._lease_schema = lease_schema
        """The store's schema when the replica is in the store's database: fences check the
        lease there, in the batch's own transaction."""
        self.schema = schema
        self.where = f"PostgreSQL {redact(url)} schema {schema}"
        self._password_file = password_file
        self._connect_timeout_s = connect_timeout_s
        self._dialect = postgres(schema)
        self._lock = threading.Lock()
        self._ready: set[str] = set()
        """Entities whose tables this process has made sure of ("" for the shared tables)."""

    def connect(self) -> Conn:
        """A session of the replica's own: autocommit (transactions are explicit), UTC."""
        settings = {
            "search_path": self.schema,
            "TimeZone": "UTC",
            "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_S * 1000),
        }
        kwargs: dict[str, Any] = {
            "options": " ".join(f"-c {k}={v}" for k, v in settings.items()),
            "application_name": "syncdeck-replica",
            "connect_timeout": max(1, int(self._connect_timeout_s)),
            "autocommit": True,
        }
        if self._password_file is not None:
            kwargs["password"] = self._password_file.read_text(encoding="utf-8").strip()
        return psycopg.connect(self.url, **kwargs)

    def target(self, spec: EntitySpec, fence: Fence | None = None) -> PostgresTarget:
        conn = self.connect()
        try:
            with self._lock:
                if "" not in self._ready:
                    self._create_schema(conn, replica_ddl(self._dialect, self._builtin.values()))
                    self._ready.update(("", *self._builtin))
                if spec.name not in self._ready:  # a configured entity, or a plugin's
                    self._create_schema(conn, entity_ddl(spec, self._dialect))
                    self._ready.add(spec.name)
            return PostgresTarget(conn, spec, self.schema, fence, self._lease_schema)
        except BaseException:
            conn.close()
            raise

    def evolve(self, specs: list[EntitySpec]) -> list[str]:
        with self.connect() as conn:
            planned = [
                evolve.plan(spec, self._dialect, self._columns(conn, spec)) for spec in specs
            ]
            problems = [problem for _, found in planned for problem in found]
            statements = [statement for found, _ in planned for statement in found]
            if not problems and statements:
                self._create_schema(conn, statements)
            return problems

    def rebuild(self, spec: EntitySpec) -> None:
        tables = [spec.table, *([spec.child.table] if spec.child else [])]
        with self.connect() as conn:
            drops = [f"DROP TABLE IF EXISTS {self.schema}.{table}" for table in tables]
            self._create_schema(conn, drops)
            if conn.execute("SELECT to_regclass(%s)", (f"{self.schema}.sync_state",)).fetchone():
                conn.execute(
                    f"DELETE FROM {self.schema}.sync_state WHERE entity = %s", (spec.name,)
                )
                conn.execute(
                    f"DELETE FROM {self.schema}.delete_candidates WHERE entity = %s", (spec.name,)
                )
        with self._lock:
            self._ready.discard(spec.name)

    def _columns(self, conn: Conn, spec: EntitySpec) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for table in evolve.wanted_columns(spec, self._dialect):
            rows = conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                (self.schema, table),
            ).fetchall()
            if rows:
                found[table] = {str(name): str(kind).lower() for name, kind in rows}
        return found

    def _create_schema(self, conn: Conn, statements: list[str]) -> None:
        with conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '60s'")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(self.schema, "replica"),))
            version = _schema_version(conn, self.schema)
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"the replica in {self.where} has schema version {version}, but this "
                    f"syncdeck knows only up to {SCHEMA_VERSION}: upgrade syncdeck"
                )
            if (
                conn.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
                ).fetchone()
                is None
            ):
                conn.execute(f"CREATE SCHEMA {self.schema}")
            for statement in statements:
                conn.execute(statement)
            if version < SCHEMA_VERSION and self._has_sync_state(conn):
                found = conn.execute(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
                    "AND table_name = 'sync_state' AND column_name = 'horizon'",
                    (self.schema,),
                ).fetchone()
                for statement in upgrade_ddl(self._dialect, found is not None):
                    conn.execute(statement)
            conn.execute(
                f"INSERT INTO {self.schema}.replica_meta (id, schema_version) VALUES (1, %s) "
                "ON CONFLICT (id) DO UPDATE SET schema_version = EXCLUDED.schema_version",
                (SCHEMA_VERSION,),
            )

    def _has_sync_state(self, conn: Conn) -> bool:
        row = conn.execute("SELECT to_regclass(%s)", (f"{self.schema}.sync_state",)).fetchone()
        return row is not None and row[0] is not None


def _schema_version(conn: Conn, schema: str) -> int:
    """0 when the replica has no marker yet (a new schema)."""
    row = conn.execute("SELECT to_regclass(%s)", (f"{schema}.replica_meta",)).fetchone()
    if row is None or row[0] is None:
        return 0
    found = conn.execute(f"SELECT schema_version FROM {schema}.replica_meta WHERE id = 1")
    version = found.fetchone()
    return 0 if version is None else int(version[0])
