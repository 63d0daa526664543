"""The check that follows bench/sqlsource.py's syncs, in SQL, so that a fast but wrong sync
cannot pass: syncdeck's replica table against the plain copy's (taken before the rows
changed), every column and row_hash but synced_at; only the changed rows may differ, and
each of them must hold the new write_date."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from msgspec import Struct

from core.entities import EntitySpec


class Comparison(Struct, frozen=True):
    replica_rows: int
    plain_rows: int
    differing: int
    """Rows missing from either side, or different in any column (synced_at aside)."""
    at_new_stamp: int
    """Replica rows whose cursor is the changed rows' new write_date."""

    def ok(self, rows: int, changed: int) -> bool:
        return (
            self.replica_rows == rows
            and self.plain_rows == rows
            and self.differing == changed
            and self.at_new_stamp == changed
        )


def compare(replica: Path, plain: Path, spec: EntitySpec, new_stamp: str) -> Comparison:
    db = sqlite3.connect(f"file:{replica}?mode=ro", uri=True)
    try:
        db.execute("ATTACH DATABASE ? AS plain", (f"file:{plain}?mode=ro",))
        t, k = spec.table, spec.key
        cols = [*spec.columns, "row_hash", "deleted_at"]
        differs = " OR ".join(f"r.{c} IS NOT p.{c}" for c in cols)

        def one(sql: str, *args: object) -> int:
            return int(db.execute(sql, args).fetchone()[0])

        missing_in_replica = one(
            f"SELECT COUNT(*) FROM plain.{t} p WHERE NOT EXISTS "
            f"(SELECT 1 FROM main.{t} r WHERE r.{k} = p.{k})"
        )
        return Comparison(
            replica_rows=one(f"SELECT COUNT(*) FROM main.{t}"),
            plain_rows=one(f"SELECT COUNT(*) FROM plain.{t}"),
            differing=missing_in_replica
            + one(
                f"SELECT COUNT(*) FROM main.{t} r LEFT JOIN plain.{t} p ON p.{k} = r.{k} "
                f"WHERE p.{k} IS NULL OR {differs}"
            ),
            at_new_stamp=one(f"SELECT COUNT(*) FROM main.{t} WHERE {spec.cursor} = ?", new_stamp),
        )
    finally:
        db.close()
