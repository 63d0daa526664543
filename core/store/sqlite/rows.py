"""Rows to models and models to rows, for the SQLite store.

Timestamps are stored as epoch seconds (REAL), enums as their values, booleans
as integers and lists as JSON text: `encode` is the one place that says so.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from enum import Enum
from typing import Any

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
    to_datetime,
)

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


def request(row: sqlite3.Row) -> SyncRequest:
    return SyncRequest(
        id=row[0],
        service=row[1],
        mode=SyncMode(row[2]),
        priority=row[3],
        state=RequestState(row[4]),
        source=RequestSource(row[5]),
        requested_at=to_datetime(row[6]),
        started_at=to_datetime(row[7]),
        finished_at=to_datetime(row[8]),
        attempt=row[9],
        not_before=to_datetime(row[10]),
        cancel_requested=bool(row[11]),
        outcome=None if row[12] is None else RunOutcome(row[12]),
        merged=row[13],
    )


def run(row: sqlite3.Row) -> RunRecord:
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
        started_at=to_datetime(row[9]),
        finished_at=to_datetime(row[10]),
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


def service(row: sqlite3.Row) -> ServiceState:
    return ServiceState(
        name=row[0],
        default_priority=row[1],
        consecutive_failures=row[2],
        circuit=CircuitState(row[3]),
        circuit_opened_at=to_datetime(row[4]),
        last_success_at=to_datetime(row[5]),
        last_run_id=row[6],
        registered_at=to_datetime(row[7]),
        interval_s=row[8],
        offset_s=row[9],
        schedule_enabled=None if row[10] is None else bool(row[10]),
        health=HealthState(row[11]),
    )


def lease(row: sqlite3.Row | None) -> Lease | None:
    if row is None:
        return None
    return Lease(
        holder=row[0],
        host=row[1],
        pid=row[2],
        epoch=row[3],
        acquired_at=to_datetime(row[4]),
        expires_at=to_datetime(row[5]),
        renewed_at=to_datetime(row[6]),
    )


def encode(value: Any) -> Any:
    """A model value as SQLite stores it."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return json.dumps(value)
    return value
