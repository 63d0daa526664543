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
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from core.models import (
    Controls,
    Event,
    HealthState,
    Lease,
    RequestSource,
    RunRecord,
    RunStats,
    ServiceState,
    SyncMode,
    SyncRequest,
)
from core.store.base import (
    EnqueueResult,
    LeaseResult,
    RunFinish,
    RunStart,
    StoreView,
)
from core.store.rules import queue, runs, services
from core.store.sqlite import reads
from core.store.sqlite.connection import SQLiteConnection
from core.store.sqlite.faults import classify
from core.store.sqlite.schema import prepare_private_path, refuse_newer_schema
from core.store.sqlite.tx import SQLiteTx, read_controls, read_lease

T = TypeVar("T")


def _apply(db: Any, now: datetime, rule: Callable[..., T], *args: Any) -> T:
    return rule(SQLiteTx(db), now, *args)


class SQLiteStore:
    """Store on one SQLite database file shared by every process on this host."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.1,
        busy_timeout_ms: int = 10_000,
    ) -> None:
        self.path = Path(path)
        self._poll_interval = poll_interval
        self._conn = SQLiteConnection(self.path, clock, busy_timeout_ms)

    async def _write(self, rule: Callable[..., T], *args: Any) -> T:
        return await self._conn.write(_apply, rule, *args)

    # -- lifecycle ----------------------------------------------------------------

    async def open(self) -> None:
        if self.path.exists():
            try:  # before touching the file
                await asyncio.to_thread(refuse_newer_schema, self.path)
            except sqlite3.Error as exc:
                raise classify(exc, self.path) from exc
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
        return await self._conn.read(lambda db: reads.view(db, self._conn.now(), history))

    # -- services and controls ----------------------------------------------------

    async def register_services(self, defaults: dict[str, int]) -> None:
        await self._write(services.register_services, defaults)

    async def services(self) -> list[ServiceState]:
        return await self._conn.read(reads.services)

    async def set_default_priority(self, service: str, priority: int) -> list[Event]:
        return await self._write(services.set_default_priority, service, priority)

    async def set_schedule(
        self,
        service: str,
        interval_s: float | None,
        offset_s: float | None,
        enabled: bool | None,
    ) -> list[Event]:
        return await self._write(services.set_schedule, service, interval_s, offset_s, enabled)

    async def set_health(
        self, service: str, health: HealthState, reasons: list[str]
    ) -> list[Event]:
        return await self._write(services.set_health, service, health, reasons)

    async def controls(self) -> Controls:
        return await self._conn.read(read_controls)

    async def set_controls(
        self, dispatch_paused: bool | None = None, schedule_paused: bool | None = None
    ) -> list[Event]:
        return await self._write(services.set_controls, dispatch_paused, schedule_paused)

    # -- requests -----------------------------------------------------------------

    async def enqueue(
        self, service: str, mode: SyncMode, priority: int | None, source: RequestSource
    ) -> EnqueueResult:
        return await self._write(queue.enqueue, service, mode, priority, source)

    async def get_request(self, request_id: int) -> SyncRequest:
        return await self._conn.read(lambda db: SQLiteTx(db).request(request_id))

    async def set_priority(self, request_id: int, priority: int) -> list[Event]:
        return await self._write(queue.set_priority, request_id, priority)

    async def cancel(self, request_id: int) -> tuple[SyncRequest, list[Event]]:
        return await self._write(queue.cancel, request_id)

    # -- lease and runs -------------------------------------------------------------

    async def acquire_lease(
        self,
        holder: str,
        host: str,
        pid: int,
        ttl_s: float,
        steal_from: str | None = None,
        epoch: int | None = None,
    ) -> LeaseResult:
        return await self._write(runs.acquire_lease, holder, host, pid, ttl_s, steal_from, epoch)

    async def release_lease(self, holder: str) -> list[Event]:
        return await self._write(runs.release_lease, holder)

    async def lease(self) -> Lease | None:
        return await self._conn.read(read_lease)

    async def start_run(self, start: RunStart) -> tuple[RunRecord, SyncRequest, list[Event]]:
        return await self._write(runs.start_run, start)

    async def finish_run(
        self, finish: RunFinish
    ) -> tuple[SyncRequest, RunRecord, ServiceState, list[Event]]:
        return await self._write(runs.finish_run, finish)

    async def runs(
        self, service: str | None = None, limit: int = 50, request_id: int | None = None
    ) -> list[RunRecord]:
        return await self._conn.read(reads.runs, service, limit, request_id)

    # -- events -------------------------------------------------------------------

    async def append_events(self, events: list[Event]) -> list[Event]:
        def append(db: Any, now: datetime) -> list[Event]:
            tx = SQLiteTx(db)
            return [
                tx.emit(e.at, e.kind, e.service, e.request_id, e.run_id, **e.data) for e in events
            ]

        return await self._conn.write(append)

    async def events_since(self, after_id: int, limit: int = 1000) -> list[Event]:
        return await self._conn.read(reads.events_since, after_id, limit)

    async def last_event_id(self) -> int:
        return await self._conn.read(reads.last_event_id)

    async def run_stats(
        self, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
    ) -> RunStats:
        return await self._conn.read(reads.run_stats, duration_buckets, wait_buckets)

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
