"""The PostgreSQL store's schema and its migrations, in a schema of its own.

Every table lives in the `[store] schema` (default `syncdeck`), so syncdeck can
share a database with the business's own tables. `schema_version` holds the
one version number. Opening migrates forward inside one transaction under an
advisory lock keyed by the schema's name, so several processes opening at once
migrate once: the others wait for the lock, then find the work done. The
version is read before any DDL runs, and a schema written by a newer syncdeck
is refused with `SchemaTooNew`; as PostgreSQL's DDL is transactional, a
refused or failed migration leaves nothing behind.

Raises: `SchemaTooNew`; `psycopg.Error` for everything else, which the
connection maps to `StoreError`.
"""

from __future__ import annotations

import hashlib

from psycopg import sql

from core.errors import SchemaTooNew
from core.store.postgres.rows import Conn

MIGRATIONS: list[str] = [
    # 1: the coordination store (the replica on PostgreSQL comes with its own version)
    """
    CREATE TABLE services (
        name text PRIMARY KEY,
        default_priority integer NOT NULL,
        consecutive_failures integer NOT NULL DEFAULT 0,
        circuit text NOT NULL DEFAULT 'closed',
        circuit_opened_at timestamptz,
        last_success_at timestamptz,
        last_run_id bigint,
        registered_at timestamptz NOT NULL,
        interval_s double precision,
        offset_s double precision,
        schedule_enabled boolean,
        health text NOT NULL DEFAULT 'healthy',
        health_reasons jsonb NOT NULL DEFAULT '[]'
    );
    CREATE TABLE requests (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        service text NOT NULL REFERENCES services(name),
        mode text NOT NULL,
        priority integer NOT NULL,
        state text NOT NULL,
        source text NOT NULL,
        requested_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz,
        attempt integer NOT NULL DEFAULT 1,
        not_before timestamptz,
        cancel_requested boolean NOT NULL DEFAULT false,
        outcome text,
        merged integer NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX requests_one_queued_per_service ON requests (service)
        WHERE state = 'queued';
    CREATE UNIQUE INDEX requests_one_running ON requests (state) WHERE state = 'running';
    CREATE INDEX requests_open ON requests (state, service)
        WHERE state IN ('queued', 'running');
    CREATE TABLE runs (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        request_id bigint NOT NULL REFERENCES requests(id),
        service text NOT NULL,
        requested_mode text NOT NULL,
        mode text NOT NULL,
        mode_reason text NOT NULL DEFAULT '',
        attempt integer NOT NULL,
        epoch bigint NOT NULL,
        holder text NOT NULL,
        started_at timestamptz NOT NULL,
        finished_at timestamptz,
        outcome text,
        error_class text,
        error text,
        fetched bigint NOT NULL DEFAULT 0,
        inserted bigint NOT NULL DEFAULT 0,
        updated bigint NOT NULL DEFAULT 0,
        unchanged bigint NOT NULL DEFAULT 0,
        deleted bigint NOT NULL DEFAULT 0,
        rejected bigint NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_service ON runs (service, id);
    CREATE INDEX runs_by_request ON runs (request_id, id);
    CREATE TABLE controls (
        id integer PRIMARY KEY CHECK (id = 1),
        dispatch_paused boolean NOT NULL DEFAULT false,
        schedule_paused boolean NOT NULL DEFAULT false
    );
    INSERT INTO controls (id) VALUES (1);
    CREATE TABLE lease (
        id integer PRIMARY KEY CHECK (id = 1),
        holder text NOT NULL,
        host text NOT NULL,
        pid integer NOT NULL,
        epoch bigint NOT NULL,
        acquired_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        renewed_at timestamptz NOT NULL
    );
    CREATE TABLE events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL,
        kind text NOT NULL,
        service text,
        request_id bigint,
        run_id bigint,
        data jsonb NOT NULL DEFAULT '{}'
    );
    CREATE TABLE changes (
        id integer PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL
    );
    INSERT INTO changes (id, seq) VALUES (1, 0);
    """,
    # 2: what observers read of the runner: a run's latest progress, the published plan
    """
    ALTER TABLE runs ADD COLUMN progress jsonb;
    CREATE TABLE runner_plan (
        id integer PRIMARY KEY CHECK (id = 1),
        holder text NOT NULL,
        epoch bigint NOT NULL,
        published_at timestamptz NOT NULL,
        plan jsonb NOT NULL
    );
    """,
    # 3: an operator's priority on a queued request stands against scheduled merges
    "ALTER TABLE requests ADD COLUMN priority_set boolean NOT NULL DEFAULT false;",
]
SCHEMA_VERSION = len(MIGRATIONS)


def lock_key(schema: str, purpose: str) -> int:
    """A stable advisory lock key (signed 64 bits) for one job on one schema."""
    digest = hashlib.blake2b(f"syncdeck:{schema}:{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def too_new(where: str, version: int) -> SchemaTooNew:
    return SchemaTooNew(
        f"{where} has schema version {version}, but this syncdeck knows only up to "
        f"{SCHEMA_VERSION}: upgrade syncdeck, or point it at another schema or database"
    )


def schema_version(conn: Conn, schema: str) -> int:
    """The schema's version, 0 where syncdeck never created it."""
    table = f"{schema}.schema_version"
    row = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
    if row is None or row[0] is None:
        return 0
    query = sql.SQL("SELECT max(version) FROM {}.schema_version").format(sql.Identifier(schema))
    found = conn.execute(query).fetchone()
    return 0 if found is None or found[0] is None else int(found[0])


def migrate(conn: Conn, schema: str, where: str) -> None:
    """Bring `schema` up to `SCHEMA_VERSION`, once however many processes open at once.

    `conn` is in autocommit mode; `where` names the database in errors."""
    name = sql.Identifier(schema)
    with conn.transaction():
        # A migration may take a while, and waiting for another opener's is expected.
        conn.execute("SET LOCAL statement_timeout = 0")
        conn.execute("SET LOCAL lock_timeout = '60s'")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema, "migrate"),))
        version = schema_version(conn, schema)
        if version > SCHEMA_VERSION:
            raise too_new(f"{where} schema {schema}", version)
        if version == SCHEMA_VERSION:
            return
        conn.execute(sql.SQL("SET LOCAL search_path = {}").format(name))
        if version == 0:
            exists = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(name))
            conn.execute("CREATE TABLE schema_version (version integer NOT NULL)")
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute(MIGRATIONS[target - 1])  # several statements: no parameters
            conn.execute("UPDATE schema_version SET version = %s", (target,))
