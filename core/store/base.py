"""The Store protocol: the one source of truth every process shares.

Each mutating method is one atomic transaction that also appends the events it
causes to the store's event log, and returns them, so that the log never
disagrees with the state. The transitions themselves are decided once, in
`core.store.rules`; a backend (SQLite, PostgreSQL) holds the SQL, the
connections, its clock, its locking and change notification, and nothing else.
`Store` below states what each backend must guarantee.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import msgspec

from core.breaker import BreakerUpdate
from core.models import (
    Controls,
    Event,
    HealthState,
    Lease,
    Progress,
    RequestSource,
    RunCounts,
    RunnerPlan,
    RunOutcome,
    RunRecord,
    ServiceState,
    SyncMode,
    SyncRequest,
)


class EnqueueResult(msgspec.Struct, frozen=True):
    request: SyncRequest
    merged: bool
    events: list[Event]


class LeaseResult(msgspec.Struct, frozen=True):
    """The lease after an acquire-or-renew; `lease` is None if another process holds it."""

    lease: Lease | None
    taken_over: bool = False
    events: list[Event] = msgspec.field(default_factory=list)


class RunStart(msgspec.Struct, frozen=True):
    request_id: int
    epoch: int
    holder: str
    mode: SyncMode
    mode_reason: str
    half_open_probe: bool = False


Breaker = Callable[[ServiceState, datetime], BreakerUpdate]
"""Given the service's state and the store's now, the circuit breaker's next state."""


class RunFinish(msgspec.Struct, frozen=True):
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


class StoreView(msgspec.Struct, frozen=True):
    """One consistent read of everything the dispatcher and a console need."""

    now: datetime
    controls: Controls
    services: list[ServiceState]
    queued: list[SyncRequest]
    running: SyncRequest | None
    running_run: RunRecord | None
    lease: Lease | None
    last_runs: dict[str, RunRecord]
    running_progress: Progress | None = None
    """The running run's last progress as its runner recorded it (`record_progress`)."""
    plan: RunnerPlan | None = None
    """The schedule and health rules the runner last published (`publish_plan`)."""
    problem: str | None = None
    """Why the store cannot take writes now, as far as the backend can tell without
    writing (SQLite: no space left, a read-only file), else None."""


class Histogram(msgspec.Struct, frozen=True, kw_only=True):
    """Counts of values at or under each bound (cumulative, as Prometheus wants them),
    with the total count and sum."""

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    count: int
    total: float


class RunStats(msgspec.Struct, frozen=True, kw_only=True):
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
    """Durable queue, history, per-service state, controls, events and the runner lease.

    What every backend guarantees (the contract suite in `tests/contract` checks it):

    - **Atomic transitions.** Each mutating method is one transaction that also
      appends the events it causes, decided by `core.store.rules`; it commits
      whole or not at all, and returns those events with their ids.
    - **Uniqueness.** At most one queued request per service and at most one
      running request, enforced by the database itself (unique indexes), so that
      no caller, however buggy or concurrent, can break them.
    - **One clock.** `now()` and every timestamp the store writes come from the
      store's clock, which every process sharing the store compares against.
    - **Event order.** Event ids grow, and an id becomes visible to readers only
      after every smaller id has: a reader that remembers the last id it saw and
      asks `events_since(last)` misses nothing. Ids may have gaps (a rolled-back
      append, pruning). A backend whose id sequence commits out of order must
      serialize appends or hand out commit-ordered ids.
    - **Fencing.** `start_run`, `finish_run`, `record_progress` and `publish_plan`
      change nothing unless the given epoch is the lease's.

    Every method may raise `StoreError` when the store cannot be used (closed,
    unreachable, corrupt, full); the `Raises:` lines name the subclasses a
    caller is expected to handle.
    """

    async def open(self) -> None:
        """Create or migrate the schema and make the store ready.

        Raises: SchemaTooNew (a newer syncdeck wrote it; nothing is changed),
        StoreError."""

    async def close(self) -> None:
        """Release connections; a closed store refuses calls. Raises: nothing."""

    async def maintenance(self) -> None:
        """Housekeeping the backend needs now and then, off the event loop (SQLite: a WAL
        checkpoint). The runner's heartbeat calls it. Raises: StoreError."""

    async def now(self) -> datetime:
        """The store's clock: the one every process compares lease expiries against.

        Raises: StoreError."""
        ...

    async def wait_for_change(self, timeout: float) -> bool:
        """Return True as soon as another connection may have changed something, or
        False after `timeout` seconds. A hint only: callers also poll, so a lost wake-up
        costs latency, never correctness. Raises: StoreError."""
        ...

    async def view(self, history: bool = True) -> StoreView:
        """Controls, services, queue, running request and lease, read in one transaction;
        `history=False` leaves out the last and running runs (the dispatcher's cheap read).

        Raises: StoreError."""
        ...

    # services and controls
    async def register_services(self, defaults: dict[str, int]) -> None:
        """Make sure each service has a state row; `defaults` maps name to default priority.

        Raises: StoreError."""

    async def services(self) -> list[ServiceState]:
        """Raises: StoreError."""
        ...

    async def set_default_priority(self, service: str, priority: int) -> list[Event]:
        """Raises: NotFound (service), StoreError (priority out of range)."""
        ...

    async def set_schedule(
        self,
        service: str,
        interval_s: float | None,
        offset_s: float | None,
        enabled: bool | None,
    ) -> list[Event]:
        """Persist a schedule override; None returns a field to the configuration.

        Raises: NotFound (service), StoreError."""
        ...

    async def set_health(
        self, service: str, health: HealthState, reasons: list[str]
    ) -> list[Event]:
        """Record a health change (only call when it changed). Raises: NotFound, StoreError."""
        ...

    async def probe_now(
        self, service: str, by: str, subject: str | None
    ) -> tuple[SyncRequest, list[Event]]:
        """Let the service's open circuit probe now, not after its cooldown: it goes half-open,
        and its queued request (queued now if there is none) may start at once. Recorded as
        `circuit.probe_requested` with who asked (`by`, `subject`). Returns that request.

        Raises: NotFound (service), InvalidTransition (the circuit is not open), StoreError."""
        ...

    async def controls(self) -> Controls:
        """Raises: StoreError."""
        ...

    async def set_controls(
        self, dispatch_paused: bool | None = None, schedule_paused: bool | None = None
    ) -> list[Event]:
        """Change what changed (and announce only that). Raises: StoreError."""
        ...

    # requests
    async def enqueue(
        self, service: str, mode: SyncMode, priority: int | None, source: RequestSource
    ) -> EnqueueResult:
        """Queue a request, or merge it into the service's queued one.

        Raises: NotFound (service), StoreError (priority out of range)."""
        ...

    async def get_request(self, request_id: int) -> SyncRequest:
        """Raises: NotFound, StoreError."""
        ...

    async def set_priority(
        self, request_id: int, priority: int | None, delta: int = 0
    ) -> list[Event]:
        """A queued request's priority: set to `priority`, or, when it is None, moved by
        `delta` in the store's own transaction (kept in range).

        Raises: NotFound, InvalidTransition (not queued), StoreError (out of range)."""
        ...

    async def cancel(self, request_id: int) -> tuple[SyncRequest, list[Event]]:
        """Cancel a queued request at once, or ask a running one to stop. A queued request
        that was to probe a half-open circuit (`probe_now`) leaves it open again.

        Raises: NotFound, InvalidTransition (already ended), StoreError."""
        ...

    # lease and runs
    async def acquire_lease(
        self,
        holder: str,
        host: str,
        pid: int,
        ttl_s: float,
        steal_from: str | None = None,
        epoch: int | None = None,
    ) -> LeaseResult:
        """Take the lease if it is free, expired, or still held by `steal_from` (a holder
        the caller knows to be dead). Renew it only while `holder` has it under `epoch`
        and it has not expired (an expired lease is taken again, under a new epoch). A
        takeover bumps the fencing epoch and turns runs left running into `interrupted`,
        queuing them again.

        Raises: StoreError."""
        ...

    async def release_lease(self, holder: str) -> list[Event]:
        """Expire `holder`'s lease now (nothing if it is not the holder). Raises: StoreError."""
        ...

    async def lease(self) -> Lease | None:
        """Raises: StoreError."""
        ...

    async def start_run(self, start: RunStart) -> tuple[RunRecord, SyncRequest, list[Event]]:
        """Claim a queued request and open its run.

        Raises: LeaseLost (fenced), NotFound, InvalidTransition (not queued, or another
        request is running), StoreError."""
        ...

    async def finish_run(
        self, finish: RunFinish
    ) -> tuple[SyncRequest, RunRecord, ServiceState, list[Event]]:
        """Close a run, update its service's breaker and end or requeue its request.
        Returns the request, the run and the service as they now are.

        Raises: LeaseLost (fenced), NotFound, InvalidTransition (already ended), StoreError."""
        ...

    async def runs(
        self, service: str | None = None, limit: int = 50, request_id: int | None = None
    ) -> list[RunRecord]:
        """Newest first. Raises: StoreError."""
        ...

    async def get_run(self, run_id: int) -> RunRecord:
        """One run by its id, finished or open, read by key (its cost does not grow with
        the history). Raises: NotFound, StoreError."""
        ...

    async def record_progress(self, run_id: int, epoch: int, progress: Progress) -> list[Event]:
        """Keep an open run's latest progress (the view's `running_progress`) and announce
        it (`run.progress`), so that a process attaching mid-run sees it. A run that has
        ended keeps what it had and nothing is announced.

        Raises: LeaseLost (fenced), NotFound, StoreError."""
        ...

    async def publish_plan(self, plan: RunnerPlan) -> None:
        """Replace the runner's published plan (the view's `plan`), stamped with the store's
        now. Raises: LeaseLost (fenced by `plan.epoch` and `plan.holder`), StoreError."""

    # events
    async def append_events(self, events: list[Event]) -> list[Event]:
        """Persist events (progress, health) and return them with their ids.

        Raises: StoreError."""
        ...

    async def events_since(self, after_id: int, limit: int = 1000) -> list[Event]:
        """Events with an id above `after_id`, oldest first (see "Event order").

        Raises: StoreError."""
        ...

    async def last_event_id(self) -> int:
        """The newest event's id, 0 for an empty log. Raises: StoreError."""
        ...

    async def prune_events(self, keep: int) -> int:
        """Keep the newest `keep` events, counted as rows (ids may have gaps); return how
        many were dropped. Raises: StoreError."""
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
