"""The replica on PostgreSQL: the same tables and promises as on SQLite, in one schema.

`PostgresReplica` opens one synchronous psycopg connection per target (a
target lives on one worker thread; psycopg's synchronous API never touches an
event loop). The tables live in the replica's schema (`[replica] schema`, by
default the store's), created by this module when the first target opens:
under an advisory lock, so concurrent openers create it once, and versioned in
its own `replica_meta` row, apart from the store's `schema_version`. A newer
version than this syncdeck knows raises `SchemaTooNew` before any DDL runs.

Bulk writes are set-based (see `core.replica.pg_sql` for the statements):
each batch is one transaction that COPYs its rows into a temporary table,
classifies them against the replica in SQL (new, changed or revived by
`row_hash`, else unchanged), upserts the ones to write in one `INSERT ...
SELECT ... ON CONFLICT DO UPDATE`, replaces their children, records its
rejects and the keys it saw, and moves the cursor up; a crash leaves all of
it or none. Into a table that was empty when its full pass began, every row
is new, so a batch is COPYed straight into the table (the first sync of a
large replica runs near COPY's own speed), under a savepoint: if a key is
there already (listed again on a later page), the batch is upserted after
all. Reconciliation and `verify` compare temporary tables of the
listed keys with the replica in SQL, so no side is held in memory.

Cursors compare as bytes (`COLLATE "C"`), as SQLite compares text, whatever
the database's collation. Booleans (`active`) are stored as 0/1 integers, as
binary COPY's int8 writes them.

Errors: `SchemaTooNew`; psycopg's errors propagate unchanged (the failed
batch is rolled back, the target stays usable); `OSError` for an unreadable
password file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from core.entities import ENTITIES, EntitySpec
from core.errors import SchemaTooNew
from core.models import RunCounts
from core.replica import pg_sql
from core.replica.base import Batch, BatchResult, Drift, Fence, SyncState
from core.replica.schema import SCHEMA_VERSION, entity_ddl, postgres, replica_ddl
from core.store.postgres.connection import redact
from core.store.postgres.schema import lock_key

Conn = psycopg.Connection[tuple[Any, ...]]

IDLE_IN_TRANSACTION_S = 60
"""A frozen writer's transaction (a process stopped mid-batch) ends after this long."""


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


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
    ) -> None:
        self.url = url
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
                    self._create_schema(conn, replica_ddl(self._dialect))
                    self._ready.update(("", *ENTITIES))
                if spec.name not in self._ready:  # an entity a plugin defines
                    self._create_schema(conn, entity_ddl(spec, self._dialect))
                    self._ready.add(spec.name)
            return PostgresTarget(conn, spec, self.schema, fence, self._lease_schema)
        except BaseException:
            conn.close()
            raise

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
            conn.execute(
                f"INSERT INTO {self.schema}.replica_meta (id, schema_version) VALUES (1, %s) "
                "ON CONFLICT (id) DO NOTHING",
                (SCHEMA_VERSION,),
            )


def _schema_version(conn: Conn, schema: str) -> int:
    """0 when the replica has no marker yet (a new schema)."""
    row = conn.execute("SELECT to_regclass(%s)", (f"{schema}.replica_meta",)).fetchone()
    if row is None or row[0] is None:
        return 0
    found = conn.execute(f"SELECT schema_version FROM {schema}.replica_meta WHERE id = 1")
    version = found.fetchone()
    return 0 if version is None else int(version[0])


class PostgresTarget:
    """One entity's replica tables on one connection (see `ReplicaTarget`)."""

    read_ahead = True  # a batch's time is mostly the server's: decode the next meanwhile

    def __init__(
        self,
        conn: Conn,
        spec: EntitySpec,
        schema: str,
        fence: Fence | None = None,
        lease_schema: str | None = None,
    ) -> None:
        self.spec = spec
        self._conn = conn
        self._fence = fence
        self._lease_sql = (
            None
            if lease_schema is None
            else f'SELECT holder, epoch FROM "{lease_schema}".lease WHERE id = 1 FOR SHARE'
        )
        self._sql = pg_sql.Statements(spec, schema)
        self._temp_tables: set[str] = set()
        self._full = False
        self._empty_at_start = False
        self._listed = 0

    def close(self) -> None:
        self._conn.close()

    def _check_fence(self) -> None:
        """Inside the open transaction, just before COMMIT: is the writer still the runner?"""
        if self._fence is not None:
            self._fence.check(None if self._lease_sql is None else self._lease)

    def _lease(self) -> tuple[str, int] | None:
        assert self._lease_sql is not None
        row = self._conn.execute(self._lease_sql).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    def _temp(self, job: str) -> None:
        """Create the temporary tables `job` needs, once per session, in one commit."""
        if job not in self._temp_tables:
            self._conn.execute("; ".join(self._sql.temp_tables[job]))
            self._temp_tables.add(job)

    # -- state ----------------------------------------------------------------

    def state(self) -> SyncState:
        row = self._conn.execute(self._sql.read_state, (self.spec.name,)).fetchone()
        if row is None:
            return SyncState(None, None, 0, None)
        return SyncState(row[0], row[1], int(row[2]), row[3])

    def live_rows(self) -> int:
        row = self._conn.execute(self._sql.live_rows).fetchone()
        assert row is not None
        return int(row[0])

    def mark_needs_full(self, reason: str) -> None:
        with self._conn.transaction():
            self._set_state(needs_full=reason)

    def _set_state(self, **values: Any) -> None:
        self._conn.execute(self._sql.ensure_state, (self.spec.name, time.time()))
        sets = ", ".join(f"{k} = %s" for k in values)
        self._conn.execute(
            f"UPDATE {self._sql.sync_state} SET {sets}, updated_at = %s WHERE entity = %s",
            (*values.values(), time.time(), self.spec.name),
        )

    # -- batches ----------------------------------------------------------------

    def begin_full(self) -> bool:
        with self._conn.transaction():
            self._set_state(needs_full="the last full run did not complete")
        self._full = True
        row = self._conn.execute(self._sql.any_row).fetchone()
        self._empty_at_start = row is None
        self._temp("seen")
        self._conn.execute("DELETE FROM pg_temp.seen")  # empty unless a pass was left unfinished
        return not self._empty_at_start

    def write(self, batch: Batch, run_id: int) -> BatchResult:
        stamp = _now_iso()
        keys, values, digests, children = batch.keys, batch.values, batch.digests, batch.children
        if len(set(keys)) != len(keys):  # listed twice: the later wins
            latest = list({k: i for i, k in enumerate(keys)}.values())
            values = [values[i] for i in latest]
            digests = [digests[i] for i in latest]
            children = [children[i] for i in latest]
        conn, sql = self._conn, self._sql
        inserted = updated = 0
        if values:
            self._temp("incoming")
        with conn.transaction():
            if values and not (
                self._empty_at_start and self._copy_new(values, digests, children, stamp)
            ):
                inserted, updated = self._upsert(values, digests, children, stamp)
            elif values:
                inserted = len(values)
            if batch.keys_seen and self._full:
                self._copy(sql.copy_seen, ["text"], [(k,) for k in batch.keys_seen])
            if batch.rejected:
                self._copy(
                    sql.copy_quarantine,
                    ["text", "text", "text", "text", "int8", "text"],
                    [(self.spec.name, k, p, r, run_id, stamp) for k, p, r in batch.rejected],
                )
            if batch.top_cursor is not None:
                conn.execute(sql.move_cursor, (self.spec.name, batch.top_cursor, time.time()))
            self._check_fence()
        counts = RunCounts(
            fetched=batch.fetched,
            rejected=len(batch.rejected),
            inserted=inserted,
            updated=updated,
            unchanged=len(values) - inserted - updated,
        )
        return BatchResult(counts, batch.top_cursor)

    def _copy_new(
        self,
        values: list[tuple[Any, ...]],
        digests: list[bytes],
        children: list[list[tuple[Any, ...]]],
        stamp: str,
    ) -> bool:
        """Into a table that was empty when this full pass began, rows are new unless an
        earlier page of the pass listed them too: COPY them straight in (no lookup, no
        classification, as on SQLite), under a savepoint. Returns False, having written
        nothing, when a key was there already; the caller then upserts."""
        sql = self._sql
        try:
            with self._conn.transaction():
                rows = [(*v, d, stamp) for v, d in zip(values, digests, strict=True)]
                self._copy(sql.copy_new, [*sql.incoming_types, "text"], rows)
                if sql.child is not None:
                    kids = [r for rows_of_one in children for r in rows_of_one]
                    if kids:
                        self._copy(sql.copy_new_children, sql.child_types[:-1], kids)
        except psycopg.errors.UniqueViolation:
            return False
        return True

    def _upsert(
        self,
        values: list[tuple[Any, ...]],
        digests: list[bytes],
        children: list[list[tuple[Any, ...]]],
        stamp: str,
    ) -> tuple[int, int]:
        """COPY the batch into `incoming`, classify and upsert in SQL: (inserted, updated)."""
        conn, sql = self._conn, self._sql
        self._copy(sql.copy_incoming, sql.incoming_types, self._rows(values, digests))
        if sql.child is None:
            found = conn.execute(sql.upsert, (stamp,)).fetchone()
        else:
            rows = [(*row, n) for n, row in enumerate(r for kids in children for r in kids)]
            if rows:
                self._copy(sql.copy_children, sql.child_types, rows)
            found = conn.execute(sql.classify_into_changed).fetchone()
            conn.execute(sql.upsert_changed, (stamp,))
            conn.execute(sql.delete_children)
            conn.execute(sql.insert_children)
        assert found is not None
        return int(found[0]), int(found[1])

    @staticmethod
    def _rows(values: list[tuple[Any, ...]], digests: list[bytes]) -> list[tuple[Any, ...]]:
        """The rows as COPY sends them (binary int8 takes a model's bool as 0/1)."""
        return [(*v, d) for v, d in zip(values, digests, strict=True)]

    def _copy(self, statement: str, types: list[str], rows: Iterable[Sequence[Any]]) -> None:
        with self._conn.cursor().copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    # -- the end of a full pass ---------------------------------------------------

    def finish_full(self, mapping_version: int, reconcile: bool) -> int:
        conn, sql = self._conn, self._sql
        deleted = 0
        with conn.transaction():
            if reconcile and not self._empty_at_start:
                conn.execute("ANALYZE pg_temp.seen")  # temporary tables get no autovacuum
                deleted = conn.execute(sql.reconcile, (_now_iso(),)).rowcount
            self._set_state(
                last_full_at=time.time(), mapping_version=mapping_version, needs_full=None
            )
            self._check_fence()
        conn.execute("TRUNCATE pg_temp.seen")
        self._full = False
        self._empty_at_start = False
        return deleted

    # -- verify -------------------------------------------------------------------

    def begin_verify(self) -> None:
        self._temp("listed")
        self._conn.execute("DELETE FROM pg_temp.listed")
        self._listed = 0

    def verify(self, batch: Batch) -> None:
        start = self._listed
        self._listed += len(batch.keys)
        self._copy(
            self._sql.copy_listed,
            ["text", "bytea", "text", "int8"],
            [
                (k, d, values[-1], start + i)  # the cursor column is the last (EntitySpec)
                for i, (k, d, values) in enumerate(
                    zip(batch.keys, batch.digests, batch.values, strict=True)
                )
            ],
        )

    def finish_verify(self, examples: int = 5) -> Drift:
        """A key listed twice counts once, with its later digest (as on SQLite)."""
        conn = self._conn
        cursor = self.state().cursor
        args = {"cursor": cursor}
        drift = Drift(self.spec.name, cursor=cursor, examples={})
        assert drift.examples is not None
        with conn.transaction():
            conn.execute(self._sql.latest_listed)
            for name, query in self._sql.drift.items():
                row = conn.execute(f"SELECT count(*) FROM ({query}) AS found", args).fetchone()
                assert row is not None
                setattr(drift, name, int(row[0]))
                found = conn.execute(f"{query} LIMIT {int(examples)}", args)
                drift.examples[name] = [str(r[0]) for r in found]
            oldest = self._sql.pending_oldest.format(pending=self._sql.drift["pending"])
            row = conn.execute(oldest, args).fetchone()
            drift.pending_oldest = None if row is None else row[0]
        conn.execute("TRUNCATE pg_temp.listed")
        return drift
