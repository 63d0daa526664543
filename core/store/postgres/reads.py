"""The PostgreSQL store's reads: the shared queries (`core.store.queries`) on PostgreSQL.

Each function takes a pooled connection in autocommit mode and runs on a store
thread. A single statement reads one snapshot; the view, which must agree
with itself across several statements, reads inside one REPEATABLE READ READ
ONLY transaction. Reads take no locks and never wait for a writer.

Raises: `psycopg.Error`, which the connection maps to `StoreError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from core.models import RunStats
from core.store import queries, stats
from core.store.base import StoreView
from core.store.columns import Fetch
from core.store.postgres.rows import POSTGRES, Conn


def fetcher(conn: Conn) -> Fetch:
    def fetch(sql: str, params: Sequence[Any]) -> list[Any]:
        return conn.execute(sql, tuple(params)).fetchall()

    return fetch


def _snapshot(conn: Conn) -> None:
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def view(conn: Conn, now: Callable[[Conn], datetime], history: bool) -> StoreView:
    """Everything in one snapshot; `now` is read first, inside it."""
    with conn.transaction():
        _snapshot(conn)
        return queries.view(fetcher(conn), POSTGRES, now(conn), history)


def run_stats(
    conn: Conn, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
) -> RunStats:
    with conn.transaction():
        _snapshot(conn)
        return stats.run_stats(fetcher(conn), POSTGRES, duration_buckets, wait_buckets)
