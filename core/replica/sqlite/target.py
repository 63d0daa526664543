"""One entity's replica tables on SQLite, on one connection: crash-safe batches, the end
of a full pass, and `verify`'s comparison (see `ReplicaTarget`).

Each batch is one `BEGIN IMMEDIATE` transaction holding its rows, its quarantined
records and the cursor that covers them (principle 7). SQLite's errors propagate as
`sqlite3.Error`; a fenced commit by a runner that lost its lease raises `LeaseLost`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from core.entities import EntitySpec
from core.models import RunCounts
from core.replica.base import Batch, BatchResult, Drift, Fence, SyncState

PARAM_CHUNK = 900


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class SQLiteTarget:
    """One entity's replica tables on one connection (see `ReplicaTarget`)."""

    read_ahead = False  # the writes run in this process: a second thread would contend

    def __init__(
        self,
        db: sqlite3.Connection,
        spec: EntitySpec,
        fence: Fence | None = None,
        fence_with_lease: bool = False,
    ) -> None:
        self.spec = spec
        self._db = db
        self._fence = fence
        self._fence_with_lease = fence_with_lease
        cols = spec.columns
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
        self._upsert = (
            f"INSERT INTO {spec.table} ({', '.join(cols)}, row_hash, synced_at, deleted_at) "
            f"VALUES ({', '.join('?' for _ in cols)}, ?, ?, NULL) "
            f"ON CONFLICT ({spec.key}) DO UPDATE SET {updates}, row_hash = excluded.row_hash, "
            "synced_at = excluded.synced_at, deleted_at = NULL"
        )
        self._full = False
        self._empty_at_start = False

    def close(self) -> None:
        self._db.close()

    # -- state ----------------------------------------------------------------

    def state(self) -> SyncState:
        row = self._db.execute(
            "SELECT cursor, last_full_at, mapping_version, needs_full, horizon FROM sync_state "
            "WHERE entity = ?",
            (self.spec.name,),
        ).fetchone()
        if row is None:
            return SyncState(None, None, 0, None)
        return SyncState(row[0], row[1], row[2], row[3], row[4])

    def live_rows(self) -> int:
        row = self._db.execute(
            f"SELECT COUNT(*) FROM {self.spec.table} WHERE deleted_at IS NULL"
        ).fetchone()
        return int(row[0])

    def mark_needs_full(self, reason: str) -> None:
        self._set_state(needs_full=reason)

    def _set_state(self, **values: Any) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._ensure_state_row()
            sets = ", ".join(f"{k} = ?" for k in values)
            self._db.execute(
                f"UPDATE sync_state SET {sets}, updated_at = ? WHERE entity = ?",
                (*values.values(), time.time(), self.spec.name),
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _ensure_state_row(self) -> None:
        self._db.execute(
            "INSERT INTO sync_state (entity, updated_at) VALUES (?, ?) "
            "ON CONFLICT (entity) DO NOTHING",
            (self.spec.name, time.time()),
        )

    # -- batches ----------------------------------------------------------------

    def begin_full(self) -> bool:
        self._set_state(needs_full="the last full run did not complete")
        self._full = True
        # Into an empty table nothing can be deleted or unchanged: skip the bookkeeping.
        self._empty_at_start = (
            self._db.execute(f"SELECT 1 FROM {self.spec.table} LIMIT 1").fetchone() is None
        )
        self._db.execute("DROP TABLE IF EXISTS temp.seen")
        self._db.execute("CREATE TEMP TABLE seen (key TEXT PRIMARY KEY) WITHOUT ROWID")
        return not self._empty_at_start

    def write(self, batch: Batch, run_id: int) -> BatchResult:
        spec = self.spec
        stamp = now_iso()
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            inserted = updated = unchanged = 0
            child_parents: list[tuple[str, list[tuple[Any, ...]]]] = []
            if self._empty_at_start and len(set(batch.keys)) == len(batch.keys):
                # Into an empty table every row is new: no lookup, no classification.
                writes = [(*v, d, stamp) for v, d in zip(batch.values, batch.digests, strict=True)]
                inserted = len(writes)
                if spec.child is not None:
                    child_parents = list(zip(batch.keys, batch.children, strict=True))
            else:
                writes = []
                latest = {k: i for i, k in enumerate(batch.keys)}  # listed twice: the later wins
                existing = self._existing(list(latest))
                for key, i in latest.items():
                    digest = batch.digests[i]
                    before = existing.get(key)
                    if before is None:
                        inserted += 1
                    elif before[0] == digest and not before[1]:
                        unchanged += 1
                        continue
                    else:
                        updated += 1
                    writes.append((*batch.values[i], digest, stamp))
                    if spec.child is not None:
                        child_parents.append((key, batch.children[i]))
            if writes:
                db.executemany(self._upsert, writes)
            if child_parents:
                self._replace_children(child_parents)
            if batch.keys_seen and self._full:
                db.executemany(
                    "INSERT OR IGNORE INTO temp.seen (key) VALUES (?)",
                    [(k,) for k in batch.keys_seen],
                )
            if batch.rejected:
                db.executemany(
                    "INSERT INTO quarantine (entity, record_key, payload, reason, run_id, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(spec.name, k, p, r, run_id, stamp) for k, p, r in batch.rejected],
                )
            if batch.top_cursor is not None:
                self._ensure_state_row()
                db.execute(
                    "UPDATE sync_state SET cursor = ?, updated_at = ? WHERE entity = ? "
                    "AND (cursor IS NULL OR cursor < ?)",
                    (batch.top_cursor, time.time(), spec.name, batch.top_cursor),
                )
            if batch.horizon is not None:
                self._ensure_state_row()
                db.execute(
                    "UPDATE sync_state SET horizon = ?, updated_at = ? WHERE entity = ?",
                    (batch.horizon or None, time.time(), spec.name),
                )
            self._check_fence()
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        counts = RunCounts(
            fetched=batch.fetched,
            rejected=len(batch.rejected),
            inserted=inserted,
            updated=updated,
            unchanged=unchanged,
        )
        return BatchResult(counts, batch.top_cursor)

    def _check_fence(self) -> None:
        """Inside the open transaction, just before COMMIT: is the writer still the runner?"""
        if self._fence is not None:
            self._fence.check(self._lease if self._fence_with_lease else None)

    def _lease(self) -> tuple[str, int] | None:
        row = self._db.execute("SELECT holder, epoch FROM lease WHERE id = 1").fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    def _existing(self, keys: list[str]) -> dict[str, tuple[bytes, bool]]:
        found: dict[str, tuple[bytes, bool]] = {}
        spec = self.spec
        for start in range(0, len(keys), PARAM_CHUNK):
            chunk = keys[start : start + PARAM_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            for key, digest, deleted in self._db.execute(
                f"SELECT {spec.key}, row_hash, deleted_at IS NOT NULL FROM {spec.table} "
                f"WHERE {spec.key} IN ({marks})",
                chunk,
            ):
                found[key] = (digest, bool(deleted))
        return found

    def _replace_children(self, parents: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        child = self.spec.child
        assert child is not None
        self._db.executemany(
            f"DELETE FROM {child.table} WHERE {child.parent_column} = ?",
            [(key,) for key, _ in parents],
        )
        rows = [row for _, children in parents for row in children]
        if rows:
            cols = (child.parent_column, *child.columns)
            self._db.executemany(
                f"INSERT OR REPLACE INTO {child.table} ({', '.join(cols)}) "
                f"VALUES ({', '.join('?' for _ in cols)})",
                rows,
            )

    # -- the end of a full pass ---------------------------------------------------

    def missed(self, limit: int) -> list[str]:
        if self._empty_at_start:
            return []
        spec = self.spec
        rows = self._db.execute(
            f"SELECT {spec.key} FROM {spec.table} WHERE deleted_at IS NULL "
            f"AND {spec.key} NOT IN (SELECT key FROM temp.seen) AND {spec.key} NOT IN "
            "(SELECT sync_key FROM delete_candidates WHERE entity = ?) LIMIT ?",
            (spec.name, limit),
        )
        return [str(row[0]) for row in rows]

    def finish_full(
        self, mapping_version: int, reconcile: bool, twice: bool = False, gone: Sequence[str] = ()
    ) -> int:
        spec = self.spec
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            deleted = 0
            if reconcile and not self._empty_at_start:
                deleted = self._reconcile(twice, gone)
            elif reconcile:
                db.execute("DELETE FROM delete_candidates WHERE entity = ?", (spec.name,))
            self._ensure_state_row()
            db.execute(
                "UPDATE sync_state SET last_full_at = ?, mapping_version = ?, needs_full = NULL, "
                "updated_at = ? WHERE entity = ?",
                (time.time(), mapping_version, time.time(), spec.name),
            )
            self._check_fence()
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        db.execute("DROP TABLE IF EXISTS temp.seen")
        self._full = False
        self._empty_at_start = False
        return deleted

    def _reconcile(self, twice: bool, gone: Sequence[str]) -> int:
        """Inside `finish_full`'s transaction: soft-delete the unseen rows the rule allows,
        and keep the others as the entity's delete candidates."""
        spec, db, stamp = self.spec, self._db, now_iso()
        unseen = f"deleted_at IS NULL AND {spec.key} NOT IN (SELECT key FROM temp.seen)"
        if not twice:
            db.execute("DELETE FROM delete_candidates WHERE entity = ?", (spec.name,))
            return db.execute(
                f"UPDATE {spec.table} SET deleted_at = ? WHERE {unseen}", (stamp,)
            ).rowcount
        deleted = db.execute(
            f"UPDATE {spec.table} SET deleted_at = ? WHERE {unseen} AND {spec.key} IN "
            "(SELECT sync_key FROM delete_candidates WHERE entity = ?)",
            (stamp, spec.name),
        ).rowcount
        for start in range(0, len(gone), PARAM_CHUNK):
            chunk = list(gone[start : start + PARAM_CHUNK])
            marks = ", ".join("?" for _ in chunk)
            deleted += db.execute(
                f"UPDATE {spec.table} SET deleted_at = ? WHERE {unseen} "
                f"AND {spec.key} IN ({marks})",
                (stamp, *chunk),
            ).rowcount
        db.execute("DELETE FROM delete_candidates WHERE entity = ?", (spec.name,))
        db.execute(
            f"INSERT INTO delete_candidates (entity, sync_key, since) "
            f"SELECT ?, {spec.key}, ? FROM {spec.table} WHERE {unseen}",
            (spec.name, time.time()),
        )
        return deleted

    # -- verify -------------------------------------------------------------------

    def begin_verify(self) -> None:
        """The listing's keys, digests and cursors go to a temporary table and SQL does the
        comparison, so neither side is held in memory."""
        self._db.execute("DROP TABLE IF EXISTS temp.listed")
        self._db.execute(
            "CREATE TEMP TABLE listed (key TEXT PRIMARY KEY, row_hash BLOB, cursor TEXT) "
            "WITHOUT ROWID"
        )

    def verify(self, batch: Batch) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO temp.listed VALUES (?, ?, ?)",
            [
                (key, digest, values[-1])  # the cursor column is the last (EntitySpec)
                for key, digest, values in zip(batch.keys, batch.digests, batch.values, strict=True)
            ],
        )

    def finish_verify(self, examples: int = 5) -> Drift:
        t, k = self.spec.table, self.spec.key
        cursor = self.state().cursor
        covered = "COALESCE(l.cursor < ?, 0)"  # no cursor yet: nothing is covered
        absent = f"(r.{k} IS NULL OR r.deleted_at IS NOT NULL)"
        joined = f"FROM temp.listed l LEFT JOIN {t} r ON r.{k} = l.key"
        queries = {
            "missing": (f"SELECT l.key {joined} WHERE {absent} AND {covered}", (cursor,)),
            "different": (
                f"SELECT l.key {joined} WHERE NOT {absent} AND r.row_hash != l.row_hash "
                f"AND {covered}",
                (cursor,),
            ),
            "pending": (
                f"SELECT l.key {joined} WHERE ({absent} OR r.row_hash != l.row_hash) "
                f"AND NOT {covered}",
                (cursor,),
            ),
            "pending_deletion": (
                f"SELECT r.{k} FROM {t} r WHERE r.deleted_at IS NULL "
                f"AND r.{k} NOT IN (SELECT key FROM temp.listed)",
                (),
            ),
        }
        drift = Drift(self.spec.name, cursor=cursor, examples={})
        assert drift.examples is not None
        for name, (sql, args) in queries.items():
            count = self._db.execute(f"SELECT COUNT(*) FROM ({sql})", args).fetchone()[0]
            setattr(drift, name, int(count))
            drift.examples[name] = [
                str(r[0]) for r in self._db.execute(f"{sql} LIMIT {examples}", args)
            ]
        pending_sql, args = queries["pending"]
        drift.pending_oldest = self._db.execute(
            f"SELECT MIN(cursor) FROM temp.listed WHERE key IN ({pending_sql})", args
        ).fetchone()[0]
        self._db.execute("DROP TABLE IF EXISTS temp.listed")
        return drift
