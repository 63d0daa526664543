"""The PostgreSQL store's reads: the shared queries (`core.store.sql.queries`) on PostgreSQL.

Each function takes a pooled connection in autocommit mode and runs on a store
thread. A single statement reads one snapshot. The view, which must agree
with itself across several statements, reads inside one REPEATABLE READ READ
ONLY transaction, sent as one pipeline: the clock and every statement of it
in one round trip (the runner reads it before each start). Reads take no
locks and never wait for a writer.

Raises: `psycopg.Error`, which the connection maps to `StoreError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from core.store.base import RunStats, StoreView
from core.store.postgres.rows import POSTGRES, Conn
from core.store.sql import queries, stats
from core.store.sql.columns import Fetch


def fetcher(conn: Conn) -> Fetch:
    def fetch(sql: str, params: Sequence[Any]) -> list[Any]:
        return conn.execute(sql, tuple(params)).fetchall()

    return fetch


def _snapshot(conn: Conn) -> None:
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def view(conn: Conn, clock: Callable[[], datetime] | None, history: bool) -> StoreView:
    """Everything in one snapshot; the time is the server's, read first inside it, unless
    a `clock` is given."""
    statements = queries.view_statements(POSTGRES, history)
    with conn.pipeline():
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        server_now = conn.execute("SELECT clock_timestamp()") if clock is None else None
        cursors = [conn.execute(sql, params) for sql, params in statements]
        conn.execute("COMMIT")
    # The pipeline's sync has brought every result into its cursor.
    if server_now is None:
        assert clock is not None
        now = clock()
    else:
        row = server_now.fetchone()
        assert row is not None
        now = row[0]
    return queries.view_from([c.fetchall() for c in cursors], POSTGRES, now, history)


def run_stats(
    conn: Conn, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
) -> RunStats:
    with conn.transaction():
        _snapshot(conn)
        return stats.run_stats(fetcher(conn), POSTGRES, duration_buckets, wait_buckets)
