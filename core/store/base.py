"""The Store protocol: the one source of truth every process shares.

Each mutating method is one atomic transaction that also appends the events it
causes to the store's event log, and returns them, so that the log never
disagrees with the state. Nothing here names a SQL dialect, a lock or a clock
source: those belong to the implementation (SQLite now, PostgreSQL next).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from core.health import BreakerUpdate
from core.models import (
    Controls,
    Event,
    HealthState,
    Lease,
    RequestSource,
    RunCounts,
    RunOutcome,
    RunRecord,
    ServiceState,
    SyncMode,
    SyncRequest,
)


@dataclass(frozen=True)
class EnqueueResult:
    request: SyncRequest
    merged: bool
    events: list[Event]


@dataclass(frozen=True)
class LeaseResult:
    """The lease after an acquire-or-renew; `lease` is None if another process holds it."""

    lease: Lease | None
    taken_over: bool = False
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class RunStart:
    request_id: int
    epoch: int
    holder: str
    mode: SyncMode
    mode_reason: str
    half_open_probe: bool = False


Breaker = Callable[[ServiceState, datetime], BreakerUpdate]
"""Given the service's state and the store's now, the circuit breaker's next state."""


@dataclass(frozen=True)
class RunFinish:
    """Everything that changes when a run ends, applied by the store in one transaction
    (fenced by `epoch`). The breaker decision runs inside it, on the state it reads."""

    run_id: int
    epoch: int
    outcome: RunOutcome
    counts: RunCounts
    error_class: str | None
    error: str | None
    retry_in_s: float | None
    """Requeue the request for another try this many seconds from now; None ends it."""
    breaker: Breaker


@dataclass(frozen=True)
class StoreView:
    """One consistent read of everything the dispatcher and a console need."""

    now: datetime
    controls: Controls
    services: list[ServiceState]
    queued: list[SyncRequest]
    running: SyncRequest | None
    running_run: RunRecord | None
    lease: Lease | None
    last_runs: dict[str, RunRecord]


@dataclass(frozen=True)
class Histogram:
    """Counts of values at or under each bound (cumulative, as Prometheus wants them),
    with the total count and sum."""

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    count: int
    total: float


@dataclass(frozen=True)
class RunStats:
    """Aggregates over the whole run history, for metrics that every process reports alike.

    Runs count once they have an outcome. Queue wait is from a request's `requested_at` to
    the start of its first attempt (retries wait by design and are left out)."""

    runs: dict[tuple[str, str], int]
    """(service, outcome) -> finished runs."""
    durations: dict[str, Histogram]
    """service -> run durations in seconds."""
    queue_wait: Histogram
    rows: dict[tuple[str, str], int]
    """(service, kind) -> rows, kind one of RunCounts' fields."""
    last_success: dict[str, datetime]
    lease_epoch: int
    """The lease's fencing epoch; 0 before any process held it."""


class Store(Protocol):
    """Durable queue, history, per-service state, controls, events and the runner lease."""

    async def open(self) -> None:
        """Create or migrate the schema. Raises SchemaTooNew for a newer database."""

    async def close(self) -> None: ...

    async def checkpoint(self) -> None:
        """Housekeeping the store needs now and then, off the event loop (SQLite: a WAL
        checkpoint). The runner's heartbeat calls it."""

    async def now(self) -> datetime:
        """The store's clock: the one every process compares lease expiries against."""
        ...

    async def wait_for_change(self, timeout: float) -> bool:
        """Return True as soon as another connection may have changed something,
        or False after `timeout` seconds."""
        ...

    async def view(self, history: bool = True) -> StoreView:
        """Controls, services, queue, running request and lease, read in one transaction;
        `history=False` leaves out the last and running runs (the dispatcher's cheap read)."""
        ...

    # services and controls
    async def register_services(self, defaults: dict[str, int]) -> None:
        """Make sure each service has a state row; `defaults` maps name to default priority."""

    async def services(self) -> list[ServiceState]: ...

    async def set_default_priority(self, service: str, priority: int) -> list[Event]: ...

    async def set_schedule(
        self,
        service: str,
        interval_s: float | None,
        offset_s: float | None,
        enabled: bool | None,
    ) -> list[Event]: ...

    async def set_health(
        self, service: str, health: HealthState, reasons: list[str]
    ) -> list[Event]:
        """Record a health change (only call when it changed)."""
        ...

    async def controls(self) -> Controls: ...

    async def set_controls(
        self, dispatch_paused: bool | None = None, schedule_paused: bool | None = None
    ) -> list[Event]: ...

    # requests
    async def enqueue(
        self, service: str, mode: SyncMode, priority: int | None, source: RequestSource
    ) -> EnqueueResult:
        """Queue a request, or merge it into the service's queued one (at most one queued
        request per service, enforced by the store)."""
        ...

    async def get_request(self, request_id: int) -> SyncRequest: ...

    async def queued(self) -> list[SyncRequest]: ...

    async def running(self) -> SyncRequest | None: ...

    async def set_priority(self, request_id: int, priority: int) -> list[Event]: ...

    async def cancel(self, request_id: int) -> tuple[SyncRequest, list[Event]]:
        """Cancel a queued request at once, or ask a running one to stop."""
        ...

    # lease and runs
    async def acquire_lease(
        self, holder: str, host: str, pid: int, ttl_s: float, steal_from: str | None = None
    ) -> LeaseResult:
        """Take the lease if it is free, expired, or still held by `steal_from` (a holder
        the caller knows to be dead); renew it if `holder` has it. A takeover bumps the
        fencing epoch and turns runs left running into `interrupted`, queuing them again."""
        ...

    async def release_lease(self, holder: str) -> list[Event]: ...

    async def lease(self) -> Lease | None: ...

    async def start_run(self, start: RunStart) -> tuple[RunRecord, SyncRequest, list[Event]]:
        """Claim a queued request and open its run. Raises LeaseLost or InvalidTransition."""
        ...

    async def finish_run(
        self, finish: RunFinish
    ) -> tuple[SyncRequest, RunRecord, ServiceState, list[Event]]:
        """Close a run, update its service's breaker and end or requeue its request.
        Returns the request, the run and the service as they now are. Raises LeaseLost."""
        ...

    async def runs(
        self, service: str | None = None, limit: int = 50, request_id: int | None = None
    ) -> list[RunRecord]:
        """Newest first."""
        ...

    # events
    async def append_events(self, events: list[Event]) -> list[Event]:
        """Persist events (progress, health) and return them with their ids."""
        ...

    async def events_since(self, after_id: int, limit: int = 1000) -> list[Event]: ...

    async def last_event_id(self) -> int: ...

    async def prune_events(self, keep: int) -> int:
        """Keep the newest `keep` events; return how many were dropped."""
        ...

    # metrics
    async def run_stats(
        self, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
    ) -> RunStats:
        """Aggregate the run history, histograms cut at the given upper bounds (ascending).

        Raises:
            StoreError: the store is not open or cannot be read.
        """
        ...
