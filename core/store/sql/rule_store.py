"""The part of every store that is a rule in one write transaction, or one read.

Most of the `Store` protocol is the same on every backend: a mutation is one
rule of `core.store.rules` applied to the backend's `Tx` inside one write
transaction, and a read is one of the shared queries (`core.store.sql.queries`).
`RuleStore` writes that mapping once. A backend supplies only how it opens
a write transaction (`_write`), how it runs a read (`_query`), its `Dialect`,
and the reads that need a snapshot of their own (`view`, `run_stats`). A new
method of the protocol is added here, for every backend at once.

Raises: what `core.store.base.Store` says per method; the backends translate
their drivers' errors into those.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from core.models import (
    Controls,
    Event,
    HealthState,
    Lease,
    Progress,
    RequestSource,
    RunnerPlan,
    RunRecord,
    ServiceState,
    SyncMode,
    SyncRequest,
)
from core.store.base import EnqueueResult, LeaseResult, RunFinish, RunStart, RunStats
from core.store.rules import queue, runs, services
from core.store.sql import queries
from core.store.sql.columns import Dialect, Fetch
from core.store.tx import Tx

T = TypeVar("T")


def _append(tx: Tx, now: datetime, events: list[Event]) -> list[Event]:
    return [tx.emit(e.at, e.kind, e.service, e.request_id, e.run_id, **e.data) for e in events]


class RuleStore(ABC):
    """`Store` methods that every backend shares; see the module docstring."""

    dialect: ClassVar[Dialect]

    @abstractmethod
    async def _write(self, rule: Callable[..., T], *args: Any) -> T:
        """`rule(tx, now, *args)` in one write transaction, committed before returning."""

    @abstractmethod
    async def _query(self, query: Callable[[Fetch], T]) -> T:
        """`query(fetch)` on a read connection; never waits for a writer."""

    @abstractmethod
    async def run_stats(
        self, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
    ) -> RunStats:
        """Aggregates read in one snapshot, which each backend opens its own way."""

    # -- services and controls ----------------------------------------------------

    async def register_services(self, defaults: dict[str, int]) -> None:
        # Read first: a process that only reads must start while another holds the lock.
        known = {state.name for state in await self.services()}
        if not defaults.keys() <= known:
            await self._write(services.register_services, defaults)

    async def services(self) -> list[ServiceState]:
        return await self._query(lambda fetch: queries.services(fetch, self.dialect))

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

    async def probe_now(
        self, service: str, by: str, subject: str | None
    ) -> tuple[SyncRequest, list[Event]]:
        return await self._write(services.probe_now, service, by, subject)

    async def controls(self) -> Controls:
        return await self._query(queries.controls)

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
        return await self._query(lambda fetch: queries.request(fetch, self.dialect, request_id))

    async def set_priority(
        self, request_id: int, priority: int | None, delta: int = 0
    ) -> list[Event]:
        return await self._write(queue.set_priority, request_id, priority, delta)

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
        return await self._query(lambda fetch: queries.lease(fetch, self.dialect))

    async def start_run(self, start: RunStart) -> tuple[RunRecord, SyncRequest, list[Event]]:
        return await self._write(runs.start_run, start)

    async def finish_run(
        self, finish: RunFinish
    ) -> tuple[SyncRequest, RunRecord, ServiceState, list[Event]]:
        return await self._write(runs.finish_run, finish)

    async def record_progress(self, run_id: int, epoch: int, progress: Progress) -> list[Event]:
        return await self._write(runs.record_progress, run_id, epoch, progress)

    async def publish_plan(self, plan: RunnerPlan) -> None:
        await self._write(runs.publish_plan, plan)

    async def runs(
        self, service: str | None = None, limit: int = 50, request_id: int | None = None
    ) -> list[RunRecord]:
        return await self._query(
            lambda fetch: queries.runs(fetch, self.dialect, service, limit, request_id)
        )

    async def get_run(self, run_id: int) -> RunRecord:
        return await self._query(lambda fetch: queries.run(fetch, self.dialect, run_id))

    # -- events -------------------------------------------------------------------

    async def append_events(self, events: list[Event]) -> list[Event]:
        return await self._write(_append, events)

    async def events_since(self, after_id: int, limit: int = 1000) -> list[Event]:
        return await self._query(
            lambda fetch: queries.events_since(fetch, self.dialect, after_id, limit)
        )

    async def last_event_id(self) -> int:
        return await self._query(queries.last_event_id)
