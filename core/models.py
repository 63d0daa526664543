"""The vocabulary shared by the core, its stores and its clients.

Every value that crosses a boundary (store to orchestrator, core to console or
CLI, process to process through the event log) is one of these, so that a
client never needs to know how the store keeps it.

They are msgspec Structs: typed, immutable and cheap to define, which every
`syncdeck` command pays at import. Trusted code builds them from data checked
where it entered (configuration in `core.config`, ERP records in
`core.sync.codec`), so they validate nothing on construction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, overload

import msgspec

MIN_PRIORITY = 0
MAX_PRIORITY = 100


@overload
def to_datetime(ts: float) -> datetime: ...
@overload
def to_datetime(ts: float | None) -> datetime | None: ...
def to_datetime(ts: float | None) -> datetime | None:
    """Store timestamps are epoch seconds; clients see aware UTC datetimes."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


class SyncMode(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"
    AUTO = "auto"


MODE_STRENGTH = {SyncMode.AUTO: 0, SyncMode.INCREMENTAL: 1, SyncMode.FULL: 2}
"""When two requests merge, the stronger mode wins: full over incremental over auto."""


class RequestSource(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    RETRY = "retry"
    CLI = "cli"
    API = "api"


class RequestState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in (RequestState.FINISHED, RequestState.CANCELLED)


class RunOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"


class HealthState(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


HEALTH_RANK = {HealthState.HEALTHY: 0, HealthState.DEGRADED: 1, HealthState.UNHEALTHY: 2}


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Model(msgspec.Struct, frozen=True, kw_only=True):
    """Base of the core's values: immutable; copy with `msgspec.structs.replace`."""


class RunCounts(Model, frozen=True, kw_only=True):
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0

    def __add__(self, other: RunCounts) -> RunCounts:
        return RunCounts(
            fetched=self.fetched + other.fetched,
            inserted=self.inserted + other.inserted,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            deleted=self.deleted + other.deleted,
            rejected=self.rejected + other.rejected,
        )


class SyncRequest(Model, frozen=True, kw_only=True):
    """One operator's, schedule's or retry's wish that a service be synced."""

    id: int
    service: str
    mode: SyncMode
    priority: int
    state: RequestState
    source: RequestSource
    requested_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempt: int = 1
    not_before: datetime | None = None
    cancel_requested: bool = False
    outcome: RunOutcome | None = None
    merged: int = 0
    """How many later requests were coalesced into this one."""
    priority_set: bool = False
    """An operator gave this priority (a manual request naming one, or a change since): a
    scheduled merge or a retry leaves it as it is."""


class RunRecord(Model, frozen=True, kw_only=True):
    """One attempt at running a request: the durable history line."""

    id: int
    request_id: int
    service: str
    requested_mode: SyncMode
    mode: SyncMode
    mode_reason: str = ""
    attempt: int = 1
    epoch: int
    holder: str
    started_at: datetime
    finished_at: datetime | None = None
    outcome: RunOutcome | None = None
    error_class: str | None = None
    error: str | None = None
    counts: RunCounts = msgspec.field(default_factory=RunCounts)

    @property
    def duration(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class RequestResult(Model, frozen=True, kw_only=True):
    """What `wait()` returns: the ended request and its last run, if it ran."""

    request: SyncRequest
    run: RunRecord | None = None

    @property
    def outcome(self) -> RunOutcome:
        if self.request.outcome is not None:
            return self.request.outcome
        return RunOutcome.CANCELLED


class ServiceState(Model, frozen=True, kw_only=True):
    """Durable per-service state kept by the store."""

    name: str
    default_priority: int
    consecutive_failures: int = 0
    circuit: CircuitState = CircuitState.CLOSED
    circuit_opened_at: datetime | None = None
    last_success_at: datetime | None = None
    last_run_id: int | None = None
    registered_at: datetime
    interval_s: float | None = None
    """Operator override of the schedule interval (None: configuration)."""
    offset_s: float | None = None
    schedule_enabled: bool | None = None
    health: HealthState = HealthState.HEALTHY


class Lease(Model, frozen=True, kw_only=True):
    """The runner lease: only its holder starts syncs."""

    holder: str
    host: str
    pid: int
    epoch: int
    acquired_at: datetime
    expires_at: datetime
    renewed_at: datetime


class Controls(Model, frozen=True, kw_only=True):
    dispatch_paused: bool = False
    schedule_paused: bool = False


class EventKind(StrEnum):
    REQUEST_QUEUED = "request.queued"
    REQUEST_MERGED = "request.merged"
    REQUEST_CANCELLED = "request.cancelled"
    REQUEST_CANCEL_ASKED = "request.cancel_requested"
    REQUEST_RETRY = "request.retry_scheduled"
    REQUEST_FINISHED = "request.finished"
    RUN_STARTED = "run.started"
    RUN_PROGRESS = "run.progress"
    RUN_STALLED = "run.stalled"
    RUN_FINISHED = "run.finished"
    RUN_INTERRUPTED = "run.interrupted"
    PRIORITY_CHANGED = "priority.changed"
    DEFAULT_PRIORITY_CHANGED = "priority.default_changed"
    DISPATCH_PAUSED = "dispatch.paused"
    DISPATCH_RESUMED = "dispatch.resumed"
    SCHEDULE_PAUSED = "schedule.paused"
    SCHEDULE_RESUMED = "schedule.resumed"
    SCHEDULE_CHANGED = "schedule.changed"
    LEASE_TAKEN = "lease.taken"
    LEASE_LOST = "lease.lost"
    HEALTH_CHANGED = "health.changed"
    CIRCUIT_CHANGED = "circuit.changed"
    CIRCUIT_PROBE_REQUESTED = "circuit.probe_requested"


class Event(Model, frozen=True, kw_only=True):
    """A change, as the in-process bus and the store's event log carry it.

    `id` is the store's event-log id; progress events that were not persisted
    carry id 0.
    """

    id: int = 0
    at: datetime
    kind: EventKind
    service: str | None = None
    request_id: int | None = None
    run_id: int | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class Progress(Model, frozen=True, kw_only=True):
    phase: str = ""
    done: int = 0
    total: int | None = None
    rate: float | None = None
    """Rows per second."""
    recorded_at: datetime | None = None
    """When the runner stored it (the store's clock); None in a live, in-process report.
    The runner stores only a report that moved (phase, done or total), so this is also
    when the run last moved: what every process's stall rule reads (`core.health`)."""

    def figures(self) -> dict[str, Any]:
        """The report as an event's or a document's data: plain JSON values only."""
        data = msgspec.structs.asdict(self)
        data["recorded_at"] = None if self.recorded_at is None else self.recorded_at.isoformat()
        data["eta_s"] = self.eta_s
        return data

    @property
    def eta_s(self) -> float | None:
        """Seconds until `total` at the current rate; None when either is unknown."""
        if not self.total or not self.rate or self.rate <= 0:
            return None
        return max(0, self.total - self.done) / self.rate


class PlannedService(Model, frozen=True, kw_only=True):
    """One service's schedule in the runner's configuration. The store's overrides apply
    on top, for observers as in the runner (`core.schedule.plan.with_overrides`), so an
    override shows at once, before the runner publishes again."""

    service: str
    interval_s: float
    offset_s: float
    enabled: bool
    next_fire: datetime | None = None
    """When the runner's schedule requests it next, as of publishing (None: disabled)."""


class RunnerPlan(Model, frozen=True, kw_only=True):
    """What the runner publishes in the store for observers (principle 1): its effective
    schedule and the rules its health follows, so that a process under another profile or
    configuration shows the runner's next runs and health, not its own idea of them."""

    holder: str
    epoch: int
    published_at: datetime | None = None
    schedule: bool
    """Whether the runner's configuration keeps a schedule at all (`[schedule] enabled`)."""
    failure_threshold: int
    cooldown_s: float
    services: list[PlannedService] = msgspec.field(default_factory=list)
    stagger_s: float = 0.0
    """The smallest gap the runner's configuration wants between two fires."""
    stall_s: float | None = None
    """How long its run may go without progress before it is stalled (None: an older runner)."""


class ActiveRun(Model, frozen=True, kw_only=True):
    request: SyncRequest
    run: RunRecord | None = None
    progress: Progress | None = None
    """The last report; while the run is not `running`, without its rate (so no ETA)."""
    condition: str = "running"
    """running, stalled (no progress for the runner's `stall_s`) or orphaned (no live runner)."""
    quiet_s: float = 0.0
    """Seconds since the run last moved, by the store: its last stored report, or its start."""
    note: str | None = None
    """What an operator is told while it is not running ("stalled: no progress for 1m12s")."""


class ServiceView(Model, frozen=True, kw_only=True):
    """One row of the services pane / `status --json`."""

    name: str
    state: str
    """idle, queued, running, stalled or orphaned (its run, as `ActiveRun.condition` says),
    retry_wait or circuit_open."""
    priority: int
    health: HealthState
    health_reasons: list[str] = msgspec.field(default_factory=list)
    circuit: CircuitState
    consecutive_failures: int
    last_run: RunRecord | None = None
    last_success_at: datetime | None = None
    next_run: datetime | None = None
    interval_s: float
    offset_s: float
    schedule_enabled: bool
    circuit_until: datetime | None = None
    """While the circuit is open: when its cooldown ends and the probe may run."""


class QueueEntry(Model, frozen=True, kw_only=True):
    request: SyncRequest
    position: int
    effective_priority: float
    waited_s: float
    ready_at: datetime | None = None
    """When it may start, if not now: its backoff's end, or its circuit's cooldown end."""
    blocked_by: str | None = None
    """What holds it until `ready_at`: "backoff" or "circuit open"; None if it may start."""


class IdleReason(Model, frozen=True, kw_only=True):
    """Why no sync runs while requests wait, in the words an operator acts on."""

    kind: str
    """store, no_runner, paused, circuit or backoff (the first that holds)."""
    text: str
    """One sentence, without the time or a client's way to act (each client adds its own)."""
    until: datetime | None = None
    """When it clears by itself (circuit cooldown, backoff end), if it does."""
    service: str | None = None


class Snapshot(Model, frozen=True, kw_only=True):
    """Everything a console shows, read in one go."""

    at: datetime
    services: list[ServiceView]
    queue: list[QueueEntry]
    active: ActiveRun | None = None
    runner: Lease | None = None
    """The lease, while its holder is alive (not expired, not a dead process on this host)."""
    controls: Controls
    health: HealthState
    is_runner: bool = False
    store_problem: str | None = None
    """Why the store refuses writes now ("store unwritable: ..."), else None. While it is
    set, the runner starts nothing and keeps trying to record what it ran."""
    idle_reason: IdleReason | None = None
    """Why nothing runs although requests are queued; None when something runs, nothing
    is queued, or the runner is about to start the head."""
    schedule: str = "running"
    """The schedule as the runner keeps it: running, paused (the store's control),
    disabled (the runner's configuration, or every service's override), or none (no
    runner alive, so nothing ticks)."""
    plan_holder: str | None = None
    """The runner whose published plan gave the next runs and health; None: this
    process's own configuration (no runner has published one)."""
    dispatch: str = "running"
    """Whether runs start: running, paused (the store's control) or none (no runner alive)."""
