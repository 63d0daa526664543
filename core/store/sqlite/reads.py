"""The SQLite store's reads: the shared queries (`core.store.sql.queries`) on SQLite.

Each function takes the connection (and, for the view, the store's now) and
runs on whichever thread holds it; several statements that must agree are
read inside one `BEGIN ... COMMIT`, which in WAL mode is one snapshot.

Raises: `sqlite3.Error`, which the store maps to `StoreError`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from core.store.base import RunStats, StoreView
from core.store.sql import queries, stats
from core.store.sql.columns import Fetch
from core.store.sqlite.rows import SQLITE


def fetcher(db: sqlite3.Connection) -> Fetch:
    def fetch(sql: str, params: Sequence[Any]) -> list[Any]:
        return db.execute(sql, tuple(params)).fetchall()

    return fetch


def view(
    db: sqlite3.Connection, now: datetime, history: bool, problem: str | None = None
) -> StoreView:
    db.execute("BEGIN")
    try:
        view = queries.view(fetcher(db), SQLITE, now, history)
    finally:
        db.execute("COMMIT")
    return view if problem is None else msgspec.structs.replace(view, problem=problem)


def run_stats(
    db: sqlite3.Connection, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
) -> RunStats:
    db.execute("BEGIN")  # one snapshot for every aggregate
    try:
        return stats.run_stats(fetcher(db), SQLITE, duration_buckets, wait_buckets)
    finally:
        db.execute("COMMIT")
