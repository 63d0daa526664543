"""Rows to models and models to rows, for the PostgreSQL store.

Timestamps are `timestamptz` (psycopg hands over aware datetimes both ways),
enums are stored as their values, booleans as booleans and lists as `jsonb`:
`encode` is the one place that says so.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

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

Conn = psycopg.Connection[TupleRow]
Row = tuple[Any, ...]

REQUEST_COLS = (
    "id, service, mode, priority, state, source, requested_at, started_at, finished_at, "
    "attempt, not_before, cancel_requested, outcome, merged"
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


def request(row: Row) -> SyncRequest:
    return SyncRequest(
        id=row[0],
        service=row[1],
        mode=SyncMode(row[2]),
        priority=row[3],
        state=RequestState(row[4]),
        source=RequestSource(row[5]),
        requested_at=row[6],
        started_at=row[7],
        finished_at=row[8],
        attempt=row[9],
        not_before=row[10],
        cancel_requested=row[11],
        outcome=None if row[12] is None else RunOutcome(row[12]),
        merged=row[13],
    )


def run(row: Row) -> RunRecord:
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
        started_at=row[9],
        finished_at=row[10],
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


def service(row: Row) -> ServiceState:
    return ServiceState(
        name=row[0],
        default_priority=row[1],
        consecutive_failures=row[2],
        circuit=CircuitState(row[3]),
        circuit_opened_at=row[4],
        last_success_at=row[5],
        last_run_id=row[6],
        registered_at=row[7],
        interval_s=row[8],
        offset_s=row[9],
        schedule_enabled=row[10],
        health=HealthState(row[11]),
    )


def lease(row: Row | None) -> Lease | None:
    if row is None:
        return None
    return Lease(
        holder=row[0],
        host=row[1],
        pid=row[2],
        epoch=row[3],
        acquired_at=row[4],
        expires_at=row[5],
        renewed_at=row[6],
    )


def encode(value: Any) -> Any:
    """A model value as PostgreSQL stores it (psycopg adapts datetimes and booleans)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return Jsonb(value)
    return value
