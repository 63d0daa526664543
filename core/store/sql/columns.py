"""The store tables' columns, their decoding and each backend's SQL dialect, once.

The backends share one table layout (see each backend's `schema`), so the
column lists and the order a row's values come in are written here, once. A
column added to one backend and not to the other fails the contract suite
instead of decoding silently wrong. What differs per backend is only how a
timestamp arrives (SQLite: epoch seconds; PostgreSQL: an aware datetime),
which each backend hands in as `timestamp`; booleans arrive as integers or
booleans, and `bool()` reads both. `Dialect` names the rest that differs in
the shared SQL (`core.store.sql.queries`, `core.store.sql.tx`, `core.store.sql.stats`).

Raises: `ValueError` from an enum for a value no version of syncdeck wrote
(a hand-edited row), which the backends report as a store error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import msgspec

from core.models import (
    CircuitState,
    HealthState,
    Lease,
    RequestSource,
    RequestState,
    RunCounts,
    RunOutcome,
    RunRecord,
    ServiceState,
    SyncMode,
    SyncRequest,
)

REQUEST_COLS = (
    "id, service, mode, priority, state, source, requested_at, started_at, finished_at, "
    "attempt, not_before, cancel_requested, outcome, merged, priority_set"
)
RUN_COLS = (
    "id, request_id, service, requested_mode, mode, mode_reason, attempt, epoch, holder, "
    "started_at, finished_at, outcome, error_class, error, "
    "fetched, inserted, updated, unchanged, deleted, rejected"
)
SERVICE_COLS = (
    "name, default_priority, consecutive_failures, circuit, circuit_opened_at, last_success_at, "
    "last_run_id, registered_at, interval_s, offset_s, schedule_enabled, health"
)
LEASE_COLS = "holder, host, pid, epoch, acquired_at, expires_at, renewed_at"

Row = Sequence[Any]
Fetch = Callable[[str, Sequence[Any]], Sequence[Row]]
"""A backend running one statement with its parameters and returning every row."""


class Decoders(msgspec.Struct, frozen=True):
    """Rows in the column orders above to models, given how timestamps arrive."""

    timestamp: Callable[[Any], datetime | None]

    def instant(self, value: Any) -> datetime:
        """A timestamp the schema declares NOT NULL."""
        return _required(self.timestamp(value))

    def request(self, row: Row) -> SyncRequest:
        ts = self.timestamp
        return SyncRequest(
            id=row[0],
            service=row[1],
            mode=SyncMode(row[2]),
            priority=row[3],
            state=RequestState(row[4]),
            source=RequestSource(row[5]),
            requested_at=self.instant(row[6]),
            started_at=ts(row[7]),
            finished_at=ts(row[8]),
            attempt=row[9],
            not_before=ts(row[10]),
            cancel_requested=bool(row[11]),
            outcome=None if row[12] is None else RunOutcome(row[12]),
            merged=row[13],
            priority_set=bool(row[14]),
        )

    def run(self, row: Row) -> RunRecord:
        ts = self.timestamp
        return RunRecord(
            id=row[0],
            request_id=row[1],
            service=row[2],
            requested_mode=SyncMode(row[3]),
            mode=SyncMode(row[4]),
            mode_reason=row[5],
            attempt=row[6],
            epoch=row[7],
            holder=row[8],
            started_at=self.instant(row[9]),
            finished_at=ts(row[10]),
            outcome=None if row[11] is None else RunOutcome(row[11]),
            error_class=row[12],
            error=row[13],
            counts=RunCounts(
                fetched=row[14],
                inserted=row[15],
                updated=row[16],
                unchanged=row[17],
                deleted=row[18],
                rejected=row[19],
            ),
        )

    def service(self, row: Row) -> ServiceState:
        ts = self.timestamp
        return ServiceState(
            name=row[0],
            default_priority=row[1],
            consecutive_failures=row[2],
            circuit=CircuitState(row[3]),
            circuit_opened_at=ts(row[4]),
            last_success_at=ts(row[5]),
            last_run_id=row[6],
            registered_at=self.instant(row[7]),
            interval_s=row[8],
            offset_s=row[9],
            schedule_enabled=None if row[10] is None else bool(row[10]),
            health=HealthState(row[11]),
        )

    def lease(self, row: Row | None) -> Lease | None:
        if row is None:
            return None
        return Lease(
            holder=row[0],
            host=row[1],
            pid=row[2],
            epoch=row[3],
            acquired_at=self.instant(row[4]),
            expires_at=self.instant(row[5]),
            renewed_at=self.instant(row[6]),
        )


def _required(value: datetime | None) -> datetime:
    if value is None:
        raise ValueError("a required timestamp is missing")
    return value


class Dialect(msgspec.Struct, frozen=True):
    """What the shared read queries need to know of a backend's SQL and driver."""

    param: str
    """The driver's placeholder."""
    decode: Decoders
    event_data: Callable[[Any], dict[str, Any]]
    """An event row's `data` column (JSON text or a decoded jsonb) as a dict."""
    encode: Callable[[Any], Any]
    """A model value (datetime, enum, bool, list) as the driver stores it."""
    event_json: Callable[[dict[str, Any]], Any]
    """An event's data as the driver stores it in the `data` column."""
    to_json: Callable[[Any], Any]
    """A msgspec value (progress, the runner's plan) as the driver stores JSON."""
    from_json: Callable[[Any, type[Any]], Any]
    """A stored JSON column back to the given msgspec type."""
    unique_violation: type[Exception]
    """What the driver raises when a unique index refuses a write."""
    row_lock: str
    """The clause that locks the rows a SELECT reads until the transaction ends, or ""."""
    duration_s: str
    """Seconds from `started_at` to `finished_at` of a row of `runs`."""
    wait_s: str
    """Seconds from the request's `requested_at` to the run's `started_at`, at least 0."""
