"""The checks that follow bench/sync.py's syncs, in SQL, so that a fast but wrong sync
cannot pass: the replica against the demo ERP (every product, every column, nothing extra
live), and against the plain upsert's table (only the changed rows may differ)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from productsync import SPEC

from core.demo import DEMO_FILENAME
from core.store import DB_FILENAME


def replica_matches_source(data_dir: Path) -> tuple[int, int, int]:
    """(source rows, rows missing or different, rows live but not in the source)."""
    db = sqlite3.connect(f"file:{data_dir / DB_FILENAME}?mode=ro", uri=True)
    try:
        db.execute("ATTACH DATABASE ? AS src", (f"file:{data_dir / DEMO_FILENAME}?mode=ro",))
        differs = " OR ".join(f"r.{c} IS NOT s.{c}" for c in SPEC.columns)
        total = db.execute("SELECT COUNT(*) FROM src.products").fetchone()[0]
        wrong = db.execute(
            "SELECT COUNT(*) FROM src.products s LEFT JOIN products r ON r.sku = s.sku "
            f"WHERE r.sku IS NULL OR r.deleted_at IS NOT NULL OR {differs}"
        ).fetchone()[0]
        extra = db.execute(
            "SELECT COUNT(*) FROM products WHERE deleted_at IS NULL "
            "AND sku NOT IN (SELECT sku FROM src.products)"
        ).fetchone()[0]
        return total, wrong, extra
    finally:
        db.close()


def same_rows(a: Path, b: Path) -> int:
    """How many rows differ between two replica tables, synced_at aside."""
    db = sqlite3.connect(f"file:{a}?mode=ro", uri=True)
    try:
        db.execute("ATTACH DATABASE ? AS b", (f"file:{b}?mode=ro",))
        cols = [*SPEC.columns, "row_hash", "deleted_at"]
        differs = " OR ".join(f"x.{c} IS NOT y.{c}" for c in cols)
        return int(
            db.execute(
                "SELECT COUNT(*) FROM products x LEFT JOIN b.products y ON y.sku = x.sku "
                f"WHERE y.sku IS NULL OR {differs}"
            ).fetchone()[0]
        )
    finally:
        db.close()
