"""The plain sqlite3 baseline of bench/sync.py: the replica writer's own upsert statement,
run with `executemany` over the same rows (read from the demo ERP and hashed beforehand,
as the replica stores them), in pages of one transaction each, into the same schema."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from productsync import SPEC, create_store

from core.sync.digest import row_digest as row_hash


def upsert_sql() -> str:
    """The replica writer's upsert, built the same way (the statement is private to it)."""
    cols = SPEC.columns
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    return (
        f"INSERT INTO {SPEC.table} ({', '.join(cols)}, row_hash, synced_at, deleted_at) "
        f"VALUES ({', '.join('?' for _ in cols)}, ?, ?, NULL) "
        f"ON CONFLICT ({SPEC.key}) DO UPDATE SET {updates}, row_hash = excluded.row_hash, "
        "synced_at = excluded.synced_at, deleted_at = NULL"
    )


def read_rows(erp_path: Path) -> list[tuple[Any, ...]]:
    """Every product as the replica stores it: the model's columns, row_hash, synced_at."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    db = sqlite3.connect(erp_path)
    try:
        rows = []
        for sku, name, category, unit, active, weight, updated in db.execute(
            f"SELECT {', '.join(SPEC.columns)} FROM products ORDER BY updated_at, sku"
        ):
            values = (sku, name, category, unit, bool(active), weight, updated)
            rows.append((*values, row_hash(values, []), stamp))
        return rows
    finally:
        db.close()


def plain_upsert(path: Path, rows: list[tuple[Any, ...]], batch: int | None) -> tuple[float, float]:
    """executemany of the writer's upsert: one transaction per `batch` rows (or one in all).
    Returns wall and CPU seconds."""
    asyncio.run(create_store(path))
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = NORMAL")
    sql = upsert_sql()
    size = batch or len(rows)
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, len(rows), size):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, rows[start : start + size])
        db.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    count = db.execute("SELECT COUNT(*) FROM products").fetchone()[0]
    db.close()
    assert count == len(rows), (count, len(rows))
    return elapsed, cpu
