"""The store backends the contract suite runs on, and PostgreSQL test databases.

A `Backend` makes stores on one place of storage (a SQLite file, a PostgreSQL
database of this test's own) and offers the few raw looks the contract needs
(schema version, tables) without a store. Adding a backend is a class here and
one name in `BACKENDS`.

PostgreSQL: the server on 127.0.0.1:5432, user `postgres`, trust auth (as
`make test` starts it). A session makes one template database with the schema
already migrated; each test gets `CREATE DATABASE ... TEMPLATE` of it and drops
it `WITH (FORCE)` afterwards. Names carry the process id, so test runs on one
server do not meet.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import psycopg
from psycopg import sql

from core.store import SQLiteStore, Store
from core.store.postgres import PostgresStore, Timeouts
from core.store.postgres.schema import MIGRATIONS as PG_MIGRATIONS
from core.store.postgres.schema import SCHEMA_VERSION as PG_SCHEMA_VERSION
from core.store.postgres.schema import migrate
from core.store.sqlite.schema import MIGRATIONS as SQLITE_MIGRATIONS
from core.store.sqlite.schema import SCHEMA_VERSION as SQLITE_SCHEMA_VERSION

BACKENDS = ["sqlite", "postgres"]

T0 = 1_800_000_000.0
"""Where the contract's manual clocks start."""

StoreFactory = Callable[..., Store]
"""`store_factory(clock=None)`: a new, unopened store on the test's storage."""

PG_HOST = os.environ.get("SYNCDECK_TEST_PGHOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SYNCDECK_TEST_PGPORT", "5432"))
PG_USER = "postgres"
SCHEMA = "syncdeck"


def pg_url(dbname: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


def pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(pg_url("postgres"), autocommit=True, connect_timeout=3)


def postgres_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    try:
        with pg_admin() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"no PostgreSQL server at {PG_HOST}:{PG_PORT} as user {PG_USER} ({first}); "
            "`make test` starts a local one when it is installed"
        )
    return None


def new_db_name(kind: str) -> str:
    return f"syncdeck_{kind}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def create_database(name: str, template: str = "template0") -> None:
    with pg_admin() as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )


def drop_database(name: str) -> None:
    with pg_admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


FAST_TIMEOUTS = Timeouts(idle_in_transaction_s=1.0, lock_s=5.0, statement_s=20.0)
"""Short enough that a frozen client's transaction ends within a test."""


class Backend(Protocol):
    name: str
    where: str
    """What a message about this store names (its file, its database)."""
    schema_version: int
    """The version this syncdeck writes."""

    def store(self, clock: Callable[[], float] | None = None) -> Store: ...

    def make_newer(self, version: int) -> None:
        """Write a schema of `version` from scratch, with a table `future` of one row."""

    def stored_version(self) -> int: ...

    migrations: list[str]
    """The backend's schema migrations, in order (version N is after the first N)."""

    def make_older(self, version: int) -> None:
        """The schema as a syncdeck at `version` left it (to test migrating forward)."""

    def tables(self) -> set[str]: ...

    def future_rows(self) -> list[tuple[object, ...]]: ...


class SQLiteBackend:
    name = "sqlite"
    schema_version = SQLITE_SCHEMA_VERSION
    migrations = SQLITE_MIGRATIONS

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "syncdeck.db"
        self.where = str(self.path)

    def store(self, clock: Callable[[], float] | None = None) -> Store:
        if clock is None:
            return SQLiteStore(self.path)
        return SQLiteStore(self.path, clock=clock)

    def _raw(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None, timeout=10)

    def make_newer(self, version: int) -> None:
        conn = self._raw()
        conn.execute("CREATE TABLE future (x)")
        conn.execute("INSERT INTO future VALUES (1)")
        conn.execute(f"PRAGMA user_version = {version}")
        conn.close()

    def make_older(self, version: int) -> None:
        conn = self._raw()
        for migration in SQLITE_MIGRATIONS[:version]:
            conn.executescript(migration)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.close()

    def stored_version(self) -> int:
        conn = self._raw()
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()

    def tables(self) -> set[str]:
        conn = self._raw()
        try:
            return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            conn.close()

    def future_rows(self) -> list[tuple[object, ...]]:
        conn = self._raw()
        try:
            return list(conn.execute("SELECT x FROM future"))
        finally:
            conn.close()


class PostgresBackend:
    name = "postgres"
    schema_version = PG_SCHEMA_VERSION
    migrations = PG_MIGRATIONS

    def __init__(self, dbname: str, schema: str = SCHEMA) -> None:
        self.dbname = dbname
        self.url = pg_url(dbname)
        self.schema = schema
        self.where = dbname

    def store(self, clock: Callable[[], float] | None = None) -> PostgresStore:
        return PostgresStore(
            self.url, schema=self.schema, clock=clock, timeouts=FAST_TIMEOUTS, poll_interval=0.2
        )

    def raw(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.url, autocommit=True)

    def make_newer(self, version: int) -> None:
        name = sql.Identifier(self.schema)
        with self.raw() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(name))
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(name))
            conn.execute(sql.SQL("CREATE TABLE {}.schema_version (version integer)").format(name))
            conn.execute(
                sql.SQL("INSERT INTO {}.schema_version VALUES (%s)").format(name), (version,)
            )
            conn.execute(sql.SQL("CREATE TABLE {}.future (x integer)").format(name))
            conn.execute(sql.SQL("INSERT INTO {}.future VALUES (1)").format(name))

    def make_older(self, version: int) -> None:
        name = sql.Identifier(self.schema)
        with self.raw() as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(name))
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(name))
            conn.execute(sql.SQL("SET search_path = {}").format(name))
            conn.execute("CREATE TABLE schema_version (version integer NOT NULL)")
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
            for migration in PG_MIGRATIONS[:version]:
                conn.execute(migration.encode())

    def stored_version(self) -> int:
        with self.raw() as conn:
            row = conn.execute(
                sql.SQL("SELECT max(version) FROM {}.schema_version").format(
                    sql.Identifier(self.schema)
                )
            ).fetchone()
        assert row is not None
        return int(str(row[0]))

    def tables(self) -> set[str]:
        with self.raw() as conn:
            cur = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (self.schema,),
            )
            return {str(r[0]) for r in cur}

    def future_rows(self) -> list[tuple[object, ...]]:
        with self.raw() as conn:
            query = sql.SQL("SELECT x FROM {}.future").format(sql.Identifier(self.schema))
            return list(conn.execute(query))


def make_template() -> str:
    """A database with the PostgreSQL schema migrated, to copy for each test."""
    name = new_db_name("template")
    create_database(name)
    with psycopg.connect(pg_url(name), autocommit=True) as conn:
        migrate(conn, SCHEMA, name)
    return name
