"""The SQLite `Tx`: the store rules' primitives as SQL on one open transaction.

It only executes: every decision is in `core.store.rules`. Locking needs
nothing here, as the store opens each write transaction with `BEGIN
IMMEDIATE`, which takes SQLite's one write lock for the whole transaction, so
every transition is serialized with every other.

Raises: `NotFound` where the `Tx` protocol says so; `InvalidTransition` when a
partial unique index (one queued per service, one running) refuses a write;
`sqlite3.Error` for the rest, which the store maps to `StoreError`.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from functools import cache
from typing import Any

import msgspec

from core.errors import InvalidTransition, NotFound
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
from core.store.sqlite import rows
from core.store.sqlite.rows import RUN_COLS, SERVICE_COLS, encode

_REQUEST_SELECT = f"SELECT {rows.REQUEST_COLS} FROM requests"
_WRITABLE = {
    "requests": frozenset(rows.REQUEST_COLS.split(", ")) - {"id"},
    "services": frozenset(SERVICE_COLS.split(", ")) - {"name"} | {"health_reasons"},
}


@cache
def _update_sql(table: str, key: str, columns: tuple[str, ...]) -> str:
    unknown = set(columns) - _WRITABLE[table]
    if unknown:
        raise ValueError(f"not a writable column of {table}: {sorted(unknown)}")
    sets = ", ".join(f"{c} = ?" for c in columns)
    return f"UPDATE {table} SET {sets} WHERE {key} = ?"


class SQLiteTx:
    """`core.store.tx.Tx` over a connection inside a `BEGIN IMMEDIATE` transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    # -- reads ------------------------------------------------------------------

    def request(self, request_id: int) -> SyncRequest:
        row = self.db.execute(f"{_REQUEST_SELECT} WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            raise NotFound(f"no request #{request_id}")
        return rows.request(row)

    def queued_for(self, service: str) -> SyncRequest | None:
        row = self.db.execute(
            f"{_REQUEST_SELECT} WHERE state = 'queued' AND service = ?", (service,)
        ).fetchone()
        return None if row is None else rows.request(row)

    def running_requests(self) -> list[SyncRequest]:
        return [
            rows.request(r) for r in self.db.execute(f"{_REQUEST_SELECT} WHERE state = 'running'")
        ]

    def service(self, name: str) -> ServiceState:
        row = self.db.execute(
            f"SELECT {SERVICE_COLS} FROM services WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise NotFound(f"unknown service {name!r}")
        return rows.service(row)

    def run(self, run_id: int) -> RunRecord:
        row = self.db.execute(f"SELECT {RUN_COLS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFound(f"no run #{run_id}")
        return rows.run(row)

    def open_run_ids(self, request_id: int) -> list[int]:
        return [
            int(r[0])
            for r in self.db.execute(
                "SELECT id FROM runs WHERE request_id = ? AND outcome IS NULL", (request_id,)
            )
        ]

    def lease(self) -> Lease | None:
        return read_lease(self.db)

    def controls(self) -> Controls:
        return read_controls(self.db)

    # -- writes -----------------------------------------------------------------

    def add_service(self, name: str, default_priority: int, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO services (name, default_priority, registered_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO NOTHING",
            (name, default_priority, now.timestamp()),
        )

    def insert_request(self, request: SyncRequest) -> int:
        try:
            cur = self.db.execute(
                "INSERT INTO requests (service, mode, priority, state, source, requested_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    request.service,
                    request.mode.value,
                    request.priority,
                    request.state.value,
                    request.source.value,
                    request.requested_at.timestamp(),
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise InvalidTransition(f"{request.service} already has a queued request") from exc
        return cur.lastrowid or 0

    def update_request(self, request_id: int, **changes: Any) -> None:
        sql = _update_sql("requests", "id", tuple(changes))
        try:
            self.db.execute(sql, (*map(encode, changes.values()), request_id))
        except sqlite3.IntegrityError as exc:
            raise InvalidTransition("another request is already running") from exc

    def insert_run(self, run: RunRecord) -> int:
        cur = self.db.execute(
            "INSERT INTO runs (request_id, service, requested_mode, mode, mode_reason, "
            "attempt, epoch, holder, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.request_id,
                run.service,
                run.requested_mode.value,
                run.mode.value,
                run.mode_reason,
                run.attempt,
                run.epoch,
                run.holder,
                run.started_at.timestamp(),
            ),
        )
        return cur.lastrowid or 0

    def end_run(self, run: RunRecord) -> None:
        c = run.counts
        self.db.execute(
            "UPDATE runs SET finished_at = ?, outcome = ?, error_class = ?, error = ?, "
            "fetched = ?, inserted = ?, updated = ?, unchanged = ?, deleted = ?, rejected = ? "
            "WHERE id = ?",
            (
                encode(run.finished_at),
                encode(run.outcome),
                run.error_class,
                run.error,
                c.fetched,
                c.inserted,
                c.updated,
                c.unchanged,
                c.deleted,
                c.rejected,
                run.id,
            ),
        )

    def update_service(self, name: str, **changes: Any) -> None:
        sql = _update_sql("services", "name", tuple(changes))
        self.db.execute(sql, (*map(encode, changes.values()), name))

    def write_lease(self, lease: Lease) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO lease (id, holder, host, pid, epoch, acquired_at, "
            "expires_at, renewed_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
            (
                lease.holder,
                lease.host,
                lease.pid,
                lease.epoch,
                lease.acquired_at.timestamp(),
                lease.expires_at.timestamp(),
                lease.renewed_at.timestamp(),
            ),
        )

    def write_controls(self, controls: Controls) -> None:
        self.db.execute(
            "UPDATE controls SET dispatch_paused = ?, schedule_paused = ? WHERE id = 1",
            (int(controls.dispatch_paused), int(controls.schedule_paused)),
        )

    def write_progress(self, run_id: int, progress: Progress) -> None:
        self.db.execute(
            "UPDATE runs SET progress = ? WHERE id = ?",
            (msgspec.json.encode(progress).decode(), run_id),
        )

    def write_plan(self, plan: RunnerPlan) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO runner_plan (id, holder, epoch, published_at, plan) "
            "VALUES (1, ?, ?, ?, ?)",
            (
                plan.holder,
                plan.epoch,
                encode(plan.published_at),
                msgspec.json.encode(plan).decode(),
            ),
        )

    def emit(
        self,
        now: datetime,
        kind: EventKind,
        service: str | None = None,
        request_id: int | None = None,
        run_id: int | None = None,
        **data: Any,
    ) -> Event:
        cur = self.db.execute(
            "INSERT INTO events (at, kind, service, request_id, run_id, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                now.timestamp(),
                kind.value,
                service,
                request_id,
                run_id,
                json.dumps(data, default=str),
            ),
        )
        return Event(
            id=cur.lastrowid or 0,
            at=now,
            kind=kind,
            service=service,
            request_id=request_id,
            run_id=run_id,
            data=data,
        )


def read_lease(db: sqlite3.Connection) -> Lease | None:
    return rows.lease(
        db.execute(
            "SELECT holder, host, pid, epoch, acquired_at, expires_at, renewed_at "
            "FROM lease WHERE id = 1"
        ).fetchone()
    )


def read_controls(db: sqlite3.Connection) -> Controls:
    row = db.execute(
        "SELECT dispatch_paused, schedule_paused FROM controls WHERE id = 1"
    ).fetchone()
    return Controls(dispatch_paused=bool(row[0]), schedule_paused=bool(row[1]))
