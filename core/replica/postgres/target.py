"""One entity's replica tables on PostgreSQL, on one connection (see `ReplicaTarget`).

Bulk writes are set-based (see `core.replica.postgres.statements` for the statements).
Each batch is one transaction that:
- COPYs its rows into a temporary table;
- classifies them against the replica in SQL (new, changed or revived by `row_hash`,
  else unchanged);
- upserts the ones to write in one `INSERT ... SELECT ... ON CONFLICT DO UPDATE`, and
  replaces their children;
- records its rejects and the keys it saw, and moves the cursor up.
A crash leaves all of it or none.

Into a table that was empty when its full pass began, every row is new, so a batch is
COPYed straight into the table, under a savepoint. If a key is there already (listed
again on a later page), the batch is upserted after all. Reconciliation and `verify`
compare temporary tables of the listed keys with the replica in SQL, so no side is held
in memory. Cursors compare as bytes (`COLLATE "C"`), as SQLite compares text, whatever
the database's collation.

Errors: psycopg's errors propagate unchanged (the failed batch is rolled back, the
target stays usable); `LeaseLost` for a fenced commit by a runner that lost its lease.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from core.entities import EntitySpec
from core.models import RunCounts
from core.replica.base import Batch, BatchResult, Drift, Fence, SyncState
from core.replica.postgres import statements as pg_sql

Conn = psycopg.Connection[tuple[Any, ...]]


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


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
        return SyncState(row[0], row[1], int(row[2]), row[3], row[4])

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
            if batch.horizon is not None:
                conn.execute(sql.set_horizon, (self.spec.name, batch.horizon or None, time.time()))
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
                rows = [(*v, d, stamp) for v, d in zip(sql.adapted(values), digests, strict=True)]
                self._copy(sql.copy_new, [*sql.incoming_types, "text"], rows)
                if sql.child is not None:
                    kids = [r for rows_of_one in children for r in rows_of_one]
                    if kids:
                        self._copy(
                            sql.copy_new_children, sql.child_types[:-1], sql.adapted_children(kids)
                        )
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
        self._copy(sql.copy_incoming, sql.incoming_types, self._rows(sql.adapted(values), digests))
        if sql.child is None:
            found = conn.execute(sql.upsert, (stamp,)).fetchone()
        else:
            kids = sql.adapted_children([r for rows_of_one in children for r in rows_of_one])
            rows = [(*row, n) for n, row in enumerate(kids)]
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

    def missed(self, limit: int) -> list[str]:
        if self._empty_at_start:
            return []
        self._conn.execute("ANALYZE pg_temp.seen")  # temporary tables get no autovacuum
        rows = self._conn.execute(self._sql.missed, (self.spec.name, limit)).fetchall()
        return [str(row[0]) for row in rows]

    def finish_full(
        self, mapping_version: int, reconcile: bool, twice: bool = False, gone: Sequence[str] = ()
    ) -> int:
        conn, sql, name = self._conn, self._sql, self.spec.name
        deleted = 0
        with conn.transaction():
            if reconcile and not self._empty_at_start:
                conn.execute("ANALYZE pg_temp.seen")  # temporary tables get no autovacuum
                if twice:
                    deleted = conn.execute(
                        sql.reconcile_twice, (_now_iso(), list(gone), name)
                    ).rowcount
                    conn.execute(sql.forget_candidates, (name,))
                    conn.execute(sql.keep_candidates, (name, time.time()))
                else:
                    deleted = conn.execute(sql.reconcile, (_now_iso(),)).rowcount
                    conn.execute(sql.forget_candidates, (name,))
            elif reconcile:
                conn.execute(sql.forget_candidates, (name,))
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
