"""PostgresStore: the store on a PostgreSQL server that processes on several hosts share.

Every mutation is one write transaction running one rule from
`core.store.rules` over a `PostgresTx`; no rule is copied here. The guarantees
of `core.store.base.Store` hold as follows:

- **Atomic transitions**: one transaction per mutation, its events included.
- **Uniqueness**: the partial unique indexes `requests_one_queued_per_service`
  and `requests_one_running` (see `schema`).
- **One clock**: the database server's (`clock_timestamp()` read once per
  write transaction, after its lock). `clock`, when given, replaces it: a test
  seam for tests that move time by hand, never for production.
- **Event order**: every write transaction takes the schema's write lock
  (`pg_advisory_xact_lock`) first and holds it until it commits, so appends are
  serialized and ids commit in order (see `connection`).
- **Fencing**: `start_run` and `finish_run` check the epoch on the lease row,
  which `PostgresTx.lease()` locks for the rest of the transaction.

`wait_for_change` is LISTEN/NOTIFY with polling underneath (see `changes`).
`maintenance` does nothing: autovacuum looks after the tables.

Raises: what `Store` names; `StoreError` for every server or connection failure,
its message naming the database without its password.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from core.errors import StoreError
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
from core.store.base import EnqueueResult, LeaseResult, RunFinish, RunStart, StoreView
from core.store.postgres import reads
from core.store.postgres.changes import Changes
from core.store.postgres.connection import PostgresConnection, Timeouts
from core.store.postgres.rows import Conn
from core.store.postgres.tx import PostgresTx, read_controls, read_lease
from core.store.rules import queue, runs, services

T = TypeVar("T")

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
"""Lower-case identifiers that need no quoting, short enough for the channel's name."""


def _apply(conn: Conn, now: datetime, rule: Callable[..., T], *args: Any) -> T:
    return rule(PostgresTx(conn), now, *args)


class PostgresStore:
    """Store in one schema of a PostgreSQL database shared by every process on every host."""

    def __init__(
        self,
        url: str,
        *,
        schema: str = "syncdeck",
        password_file: Path | None = None,
        clock: Callable[[], float] | None = None,
        poll_interval: float = 0.5,
        timeouts: Timeouts | None = None,
        pool_size: int = 4,
    ) -> None:
        if not SCHEMA_NAME.match(schema):
            raise StoreError(f"store schema {schema!r}: use a-z, 0-9 and _ (at most 48)")
        self._conn = PostgresConnection(
            url,
            schema,
            password_file=password_file,
            clock=clock,
            timeouts=timeouts or Timeouts(),
            pool_size=pool_size,
        )
        self._poll_interval = poll_interval
        self._changes: Changes | None = None

    @property
    def where(self) -> str:
        """The database and schema, for messages (no password)."""
        return f"{self._conn.where} schema {self._conn.schema}"

    async def _write(self, rule: Callable[..., T], *args: Any) -> T:
        return await self._write_fn(_apply, rule, *args)

    async def _write_fn(self, fn: Callable[..., T], *args: Any) -> T:
        result, seq = await self._conn.write(fn, *args)
        if self._changes is not None:
            self._changes.wrote(seq)
        return result

    # -- lifecycle ----------------------------------------------------------------

    async def open(self) -> None:
        await self._conn.open()
        changes = Changes(
            self._conn.url,
            self._conn.kwargs("listener"),
            self._conn.channel,
            self._conn.change_seq,
            self._poll_interval,
        )
        try:
            await changes.start()
        except BaseException:
            await self._conn.close()
            raise
        self._changes = changes

    async def close(self) -> None:
        changes, self._changes = self._changes, None
        if changes is not None:
            await changes.stop()
        await self._conn.close()

    async def maintenance(self) -> None:
        if not self._conn.is_open:
            raise StoreError("store is not open")

    async def now(self) -> datetime:
        return await self._conn.now()

    async def wait_for_change(self, timeout: float) -> bool:
        if self._changes is None:
            raise StoreError("store is not open")
        return await self._changes.wait(timeout)

    async def view(self, history: bool = True) -> StoreView:
        return await self._conn.call(reads.view, self._conn.now_sync, history)

    # -- services and controls ----------------------------------------------------

    async def register_services(self, defaults: dict[str, int]) -> None:
        await self._write(services.register_services, defaults)

    async def services(self) -> list[ServiceState]:
        return await self._conn.call(reads.services)

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
        return await self._conn.call(read_controls)

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
        return await self._conn.call(lambda conn: PostgresTx(conn).request(request_id))

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
        return await self._conn.call(read_lease)

    async def start_run(self, start: RunStart) -> tuple[RunRecord, SyncRequest, list[Event]]:
        return await self._write(runs.start_run, start)

    async def finish_run(
        self, finish: RunFinish
    ) -> tuple[SyncRequest, RunRecord, ServiceState, list[Event]]:
        return await self._write(runs.finish_run, finish)

    async def runs(
        self, service: str | None = None, limit: int = 50, request_id: int | None = None
    ) -> list[RunRecord]:
        return await self._conn.call(reads.runs, service, limit, request_id)

    # -- events -------------------------------------------------------------------

    async def append_events(self, events: list[Event]) -> list[Event]:
        def append(conn: Conn, now: datetime) -> list[Event]:
            tx = PostgresTx(conn)
            return [
                tx.emit(e.at, e.kind, e.service, e.request_id, e.run_id, **e.data) for e in events
            ]

        return await self._write_fn(append)

    async def events_since(self, after_id: int, limit: int = 1000) -> list[Event]:
        return await self._conn.call(reads.events_since, after_id, limit)

    async def last_event_id(self) -> int:
        return await self._conn.call(reads.last_event_id)

    async def run_stats(
        self, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
    ) -> RunStats:
        return await self._conn.call(reads.run_stats, duration_buckets, wait_buckets)

    async def prune_events(self, keep: int) -> int:
        def prune(conn: Conn, now: datetime) -> int:
            if keep <= 0:
                return int(conn.execute("DELETE FROM events").rowcount)
            # By rows, not by ids: ids may have gaps.
            cur = conn.execute(
                "DELETE FROM events WHERE id < (SELECT id FROM events ORDER BY id DESC "
                "LIMIT 1 OFFSET %s)",
                (max(0, keep - 1),),
            )
            return int(cur.rowcount)

        return await self._write_fn(prune)
