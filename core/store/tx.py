"""What a backend's write transaction offers the store's rules (`core.store.rules`).

A backend implements `Tx` with its own SQL over one open transaction; the
rules decide every transition through it and never see a dialect. The
rules' correctness rests on the promises a `Tx` makes:
- reads see the transaction's own writes;
- a rule's writes commit together or not at all;
- transitions on the same service or on the lease are serialized (SQLite's
  single writer does this; a row-locking backend locks the rows `service()` and
  `lease()` read, or serializes its write transactions otherwise).

A primitive
that fails raises `StoreError` (or the `core.errors` subclass its docstring
names), and the backend rolls back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from core.models import (
    Controls,
    Event,
    EventKind,
    Lease,
    Progress,
    RunnerPlan,
    RunRecord,
    ServiceState,
    SyncRequest,
)


class Tx(Protocol):
    """The primitive reads and writes of one open write transaction.

    Reads return what this transaction would see, its own writes included.
    `service()` and `lease()` also lock what they read until the transaction
    ends, where the backend has row locks (or every write transaction holds one
    lock): every transition about one service serializes on its service row,
    and every lease transition on the lease row.
    Field names passed to `update_*` are the models' field names; values are
    model values (datetimes, enums, lists), which the backend encodes.
    """

    def request(self, request_id: int) -> SyncRequest:
        """Raises NotFound."""
        ...

    def queued_for(self, service: str) -> SyncRequest | None: ...

    def running_requests(self) -> list[SyncRequest]: ...

    def service(self, name: str) -> ServiceState:
        """Raises NotFound for a service never registered."""
        ...

    def service_and_queued(self, name: str) -> tuple[ServiceState, SyncRequest | None]:
        """`service(name)` and `queued_for(name)` at once (a pipelining backend reads both in
        one round trip). Raises NotFound for a service never registered."""
        ...

    def run(self, run_id: int) -> RunRecord:
        """Raises NotFound."""
        ...

    def open_run_ids(self, request_id: int) -> list[int]:
        """Runs of the request that have no outcome yet."""
        ...

    def lease(self) -> Lease | None: ...

    def controls(self) -> Controls: ...

    def add_service(self, name: str, default_priority: int, now: datetime) -> None:
        """Register a service unless it already is (then leave it as it is)."""

    def insert_request(self, request: SyncRequest) -> int:
        """Store a new request (its `id` is ignored) and return its id. Raises
        InvalidTransition where a uniqueness rule (one queued per service) refuses it."""
        ...

    def update_request(self, request_id: int, **changes: Any) -> None:
        """Raises InvalidTransition where a uniqueness rule (one running) refuses it."""

    def insert_run(self, run: RunRecord) -> int:
        """Store a new run (its `id` is ignored) and return its id."""
        ...

    def end_run(self, run: RunRecord) -> None:
        """Record the run's end: finished_at, outcome, error class and message, counts."""

    def update_service(self, name: str, **changes: Any) -> None: ...

    def write_lease(self, lease: Lease) -> None: ...

    def write_controls(self, controls: Controls) -> None: ...

    def write_progress(self, run_id: int, progress: Progress) -> None:
        """Replace the run's stored progress."""

    def write_plan(self, plan: RunnerPlan) -> None:
        """Replace the runner's published plan (there is one, or none)."""

    def emit(
        self,
        now: datetime,
        kind: EventKind,
        service: str | None = None,
        request_id: int | None = None,
        run_id: int | None = None,
        **data: Any,
    ) -> Event:
        """Append an event to the log in this transaction and return it with its id."""
        ...
