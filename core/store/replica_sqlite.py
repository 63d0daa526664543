"""Writing the replica into the SQLite store, one crash-safe batch at a time.

Each batch is one transaction holding its rows, its quarantined records and
the cursor that covers them (principle 7): a crash at any instant leaves the
cursor behind or at the rows that committed, never ahead of them. A writer
owns its own connection and is used from one worker thread, off the event loop.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import IncompleteListing
from core.models import RunCounts
from core.services.codec import codec_for
from core.services.entities import EntitySpec
from core.sources.base import Page

PARAM_CHUNK = 900


@dataclass
class SyncState:
    cursor: str | None
    last_full_at: float | None
    mapping_version: int
    needs_full: str | None


@dataclass
class BatchResult:
    counts: RunCounts
    cursor: str | None


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ReplicaWriter:
    """Applies validated batches of one entity to the replica tables."""

    def __init__(self, path: Path, spec: EntitySpec, busy_timeout_ms: int = 30_000) -> None:
        self.spec = spec
        self._db = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
        self._db.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA temp_store = FILE")
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
        self.keyless_rejected = 0
        """Invalid records without a key seen in this full pass."""
        self._codec = codec_for(spec)

    def close(self) -> None:
        self._db.close()

    # -- state ----------------------------------------------------------------

    def state(self) -> SyncState:
        return read_state(self._db, self.spec.name)

    def live_rows(self) -> int:
        row = self._db.execute(
            f"SELECT COUNT(*) FROM {self.spec.table} WHERE deleted_at IS NULL"
        ).fetchone()
        return int(row[0])

    def begin_full(self) -> None:
        """Mark a full pass as under way (so a crash makes the next auto run full again)
        and start recording which keys the source still has."""
        self._full = True
        self.keyless_rejected = 0
        # Into an empty table nothing can be deleted or unchanged: skip the bookkeeping.
        self._empty_at_start = (
            self._db.execute(f"SELECT 1 FROM {self.spec.table} LIMIT 1").fetchone() is None
        )
        self._db.execute("DROP TABLE IF EXISTS temp.seen")
        self._db.execute("CREATE TEMP TABLE seen (key TEXT PRIMARY KEY) WITHOUT ROWID")
        self._set_state(needs_full="the last full run did not complete")

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

    def mark_needs_full(self, reason: str) -> None:
        self._set_state(needs_full=reason)

    # -- batches ----------------------------------------------------------------

    def apply(self, listed: Page | list[dict[str, Any]], run_id: int) -> BatchResult:
        """Validate, classify and write one page with its cursor, atomically."""
        spec = self.spec
        reconciling = self._full and not self._empty_at_start
        if isinstance(listed, Page):
            fetched = len(listed)
            page = self._codec.decode_page(listed, want_seen=reconciling)
        else:
            fetched = len(listed)
            page = self._codec.decode(listed, want_seen=reconciling)
        if self._full:
            self.keyless_rejected += sum(1 for key, _, _ in page.rejected if key is None)
        stamp = _now_iso()
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            inserted = updated = unchanged = 0
            child_parents: list[tuple[str, list[tuple[Any, ...]]]] = []
            if self._empty_at_start and len(set(page.keys)) == len(page.keys):
                # Into an empty table every row is new: no lookup, no classification.
                writes = [(*v, d, stamp) for v, d in zip(page.values, page.digests, strict=True)]
                inserted = len(writes)
                if spec.child is not None:
                    child_parents = list(zip(page.keys, page.children, strict=True))
            else:
                writes = []
                latest = {k: i for i, k in enumerate(page.keys)}  # listed twice: the later wins
                existing = self._existing(list(latest))
                for key, i in latest.items():
                    digest = page.digests[i]
                    before = existing.get(key)
                    if before is None:
                        inserted += 1
                    elif before[0] == digest and not before[1]:
                        unchanged += 1
                        continue
                    else:
                        updated += 1
                    writes.append((*page.values[i], digest, stamp))
                    if spec.child is not None:
                        child_parents.append((key, page.children[i]))
            if writes:
                db.executemany(self._upsert, writes)
            if child_parents:
                self._replace_children(child_parents)
            if page.keys_seen:
                db.executemany(
                    "INSERT OR IGNORE INTO temp.seen (key) VALUES (?)",
                    [(k,) for k in page.keys_seen],
                )
            if page.rejected:
                db.executemany(
                    "INSERT INTO quarantine (entity, record_key, payload, reason, run_id, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(spec.name, k, p, r, run_id, stamp) for k, p, r in page.rejected],
                )
            if page.top_cursor is not None:
                self._ensure_state_row()
                db.execute(
                    "UPDATE sync_state SET cursor = ?, updated_at = ? WHERE entity = ? "
                    "AND (cursor IS NULL OR cursor < ?)",
                    (page.top_cursor, time.time(), spec.name, page.top_cursor),
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return BatchResult(
            RunCounts(
                fetched=fetched,
                rejected=len(page.rejected),
                inserted=inserted,
                updated=updated,
                unchanged=unchanged,
            ),
            page.top_cursor,
        )

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

    def finish_full(
        self, mapping_version: int, fetched: int, live_before: int, threshold: float
    ) -> int:
        """Soft-delete rows the source no longer lists, unless the pass looks incomplete.

        Returns how many rows were deleted. Raises IncompleteListing (deleting nothing)
        when the source listed fewer than `threshold` of the replica's live rows.
        """
        if live_before and fetched < threshold * live_before:
            raise IncompleteListing(
                f"the full listing returned {fetched} records, fewer than "
                f"{threshold:.0%} of the {live_before} live rows in the replica; "
                "deleted nothing (is the source truncating its listing?)"
            )
        spec = self.spec
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            deleted = 0
            # A record served without its key could stand for any row: deleting "unseen"
            # rows would delete it. Such a pass reconciles nothing (its rows still landed).
            if not self._empty_at_start and not self.keyless_rejected:
                cur = db.execute(
                    f"UPDATE {spec.table} SET deleted_at = ? WHERE deleted_at IS NULL "
                    f"AND {spec.key} NOT IN (SELECT key FROM temp.seen)",
                    (_now_iso(),),
                )
                deleted = cur.rowcount
            self._ensure_state_row()
            db.execute(
                "UPDATE sync_state SET last_full_at = ?, mapping_version = ?, needs_full = NULL, "
                "updated_at = ? WHERE entity = ?",
                (time.time(), mapping_version, time.time(), spec.name),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        db.execute("DROP TABLE IF EXISTS temp.seen")
        self._full = False
        self._empty_at_start = False
        return deleted


def read_state(db: sqlite3.Connection, entity: str) -> SyncState:
    row = db.execute(
        "SELECT cursor, last_full_at, mapping_version, needs_full FROM sync_state WHERE entity = ?",
        (entity,),
    ).fetchone()
    if row is None:
        return SyncState(None, None, 0, None)
    return SyncState(row[0], row[1], row[2], row[3])


@dataclass
class Drift:
    """How a replica table differs from its source, by key."""

    entity: str
    source_rows: int = 0
    invalid_in_source: int = 0
    missing: int = 0
    extra: int = 0
    different: int = 0
    examples: dict[str, list[str]] | None = None

    @property
    def clean(self) -> bool:
        return not (self.missing or self.extra or self.different)


class DriftChecker:
    """Compares the replica with a full listing of the source without holding either in memory:
    the source's keys and hashes go to a temporary table, and SQL does the comparison."""

    def __init__(self, path: Path, spec: EntitySpec) -> None:
        self.spec = spec
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA temp_store = FILE")
        self._db.execute("DROP TABLE IF EXISTS temp.listed")
        self._db.execute(
            "CREATE TEMP TABLE listed (key TEXT PRIMARY KEY, row_hash BLOB) WITHOUT ROWID"
        )
        self.drift = Drift(spec.name)

    def add(self, records: list[dict[str, Any]]) -> None:
        page = codec_for(self.spec).decode(records)
        self.drift.invalid_in_source += len(page.rejected)
        self.drift.source_rows += len(page.keys)
        self._db.executemany(
            "INSERT OR REPLACE INTO temp.listed VALUES (?, ?)",
            list(zip(page.keys, page.digests, strict=True)),
        )

    def finish(self, examples: int = 5) -> Drift:
        t, k = self.spec.table, self.spec.key
        queries = {
            "missing": f"SELECT l.key FROM temp.listed l LEFT JOIN {t} r ON r.{k} = l.key "
            "WHERE r.{k} IS NULL OR r.deleted_at IS NOT NULL".replace("{k}", k),
            "extra": f"SELECT r.{k} FROM {t} r WHERE r.deleted_at IS NULL "
            f"AND r.{k} NOT IN (SELECT key FROM temp.listed)",
            "different": f"SELECT l.key FROM temp.listed l JOIN {t} r ON r.{k} = l.key "
            "WHERE r.deleted_at IS NULL AND r.row_hash != l.row_hash",
        }
        found: dict[str, list[str]] = {}
        for name, sql in queries.items():
            count = self._db.execute(f"SELECT COUNT(*) FROM ({sql})").fetchone()[0]
            setattr(self.drift, name, int(count))
            found[name] = [str(r[0]) for r in self._db.execute(f"{sql} LIMIT {examples}")]
        self.drift.examples = found
        self._db.close()
        return self.drift
