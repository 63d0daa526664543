"""The embedded default store: one SQLite file (WAL) in the data directory.

Every mutation is one `BEGIN IMMEDIATE` transaction in which a rule of
`core.store.rules` decides and `SQLiteTx` executes; partial unique indexes
enforce "one queued request per service" and "one running request" whatever
the callers do. The clock is this host's wall clock: every process sharing the
file is on this host. Event ids are SQLite rowids assigned under the single
write lock, so they become visible in id order, as the protocol asks.

Raises: what `core.store.base.Store` says, per method.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from core.store.base import RunStats, StoreView
from core.store.sql.columns import Fetch
from core.store.sql.rule_store import RuleStore
from core.store.sqlite import reads
from core.store.sqlite.connection import SQLiteConnection
from core.store.sqlite.faults import write_problem
from core.store.sqlite.rows import SQLITE
from core.store.sqlite.schema import prepare_private_path
from core.store.sqlite.tx import SQLiteTx

T = TypeVar("T")


def _apply(db: Any, now: datetime, rule: Callable[..., T], *args: Any) -> T:
    return rule(SQLiteTx(db), now, *args)


class SQLiteStore(RuleStore):
    """Store on one SQLite database file shared by every process on this host (`on_open`
    and `on_close`: a test's hooks, see `core.store.sqlite.connection`)."""

    dialect = SQLITE

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.1,
        busy_timeout_ms: int = 10_000,
        on_open: Callable[[threading.Lock], None] | None = None,
        on_close: Callable[[threading.Lock], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self._poll_interval = poll_interval
        self._conn = SQLiteConnection(
            self.path, clock, busy_timeout_ms, on_open=on_open, on_close=on_close
        )

    async def _write(self, rule: Callable[..., T], *args: Any) -> T:
        return await self._conn.write(_apply, rule, *args)

    async def _query(self, query: Callable[[Fetch], T]) -> T:
        return await self._conn.read(lambda db: query(reads.fetcher(db)))

    async def run_stats(
        self, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
    ) -> RunStats:
        return await self._conn.read(reads.run_stats, duration_buckets, wait_buckets)

    # -- lifecycle ----------------------------------------------------------------

    async def open(self) -> None:
        prepare_private_path(self.path)
        await self._conn.open()

    async def close(self) -> None:
        await self._conn.close()

    async def maintenance(self) -> None:
        await self._conn.checkpoint()

    async def now(self) -> datetime:
        return self._conn.now()

    async def wait_for_change(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if await self._conn.call(self._conn.data_changed):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(self._poll_interval, remaining))

    async def view(self, history: bool = True) -> StoreView:
        problem = write_problem(self._conn.path)
        return await self._conn.read(lambda db: reads.view(db, self._conn.now(), history, problem))

    async def prune_events(self, keep: int) -> int:
        def prune(db: Any, now: datetime) -> int:
            if keep <= 0:
                return int(db.execute("DELETE FROM events").rowcount)
            # By rows, not by ids: ids may have gaps.
            cur = db.execute(
                "DELETE FROM events WHERE id < (SELECT id FROM events ORDER BY id DESC "
                "LIMIT 1 OFFSET ?)",
                (max(0, keep - 1),),
            )
            return int(cur.rowcount)

        return await self._conn.write(prune)
