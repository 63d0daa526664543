"""The PostgreSQL `Tx`: the store rules' primitives as SQL on one open transaction.

It only executes: every decision is in `core.store.rules`. The transaction is
READ COMMITTED and was opened by `begin_write`, which took the schema's write
lock (see `core.store.postgres.connection`), so each statement here sees every
transaction committed before this one. `service()` and `lease()` also lock the
rows they read (`FOR UPDATE`), as the `Tx` protocol asks of a row-locking
backend: the write lock is what serializes the event log, and the row locks
keep "one transition per service, one on the lease" true on their own.

PostgreSQL aborts a transaction at its first failed statement, so a primitive
that raises leaves the transaction unusable: the rules never go on after one
(they raise, and the store rolls back).

Raises: `NotFound` where the `Tx` protocol says so; `InvalidTransition` when a
partial unique index (one queued per service, one running) refuses a write;
`psycopg.Error` for the rest, which the connection maps to `StoreError`.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

import msgspec
from psycopg import errors
from psycopg.types.json import Jsonb

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
from core.store.postgres import rows
from core.store.postgres.rows import LEASE_COLS, RUN_COLS, SERVICE_COLS, Conn, encode

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
    sets = ", ".join(f"{c} = %s" for c in columns)
    return f"UPDATE {table} SET {sets} WHERE {key} = %s"


class PostgresTx:
    """`core.store.tx.Tx` over a connection inside a write transaction."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    # -- reads ------------------------------------------------------------------

    def request(self, request_id: int) -> SyncRequest:
        row = self.conn.execute(f"{_REQUEST_SELECT} WHERE id = %s", (request_id,)).fetchone()
        if row is None:
            raise NotFound(f"no request #{request_id}")
        return rows.request(row)

    def queued_for(self, service: str) -> SyncRequest | None:
        row = self.conn.execute(
            f"{_REQUEST_SELECT} WHERE state = 'queued' AND service = %s", (service,)
        ).fetchone()
        return None if row is None else rows.request(row)

    def running_requests(self) -> list[SyncRequest]:
        cur = self.conn.execute(f"{_REQUEST_SELECT} WHERE state = 'running'")
        return [rows.request(r) for r in cur]

    def service(self, name: str) -> ServiceState:
        row = self.conn.execute(
            f"SELECT {SERVICE_COLS} FROM services WHERE name = %s FOR UPDATE", (name,)
        ).fetchone()
        if row is None:
            raise NotFound(f"unknown service {name!r}")
        return rows.service(row)

    def run(self, run_id: int) -> RunRecord:
        row = self.conn.execute(f"SELECT {RUN_COLS} FROM runs WHERE id = %s", (run_id,)).fetchone()
        if row is None:
            raise NotFound(f"no run #{run_id}")
        return rows.run(row)

    def open_run_ids(self, request_id: int) -> list[int]:
        cur = self.conn.execute(
            "SELECT id FROM runs WHERE request_id = %s AND outcome IS NULL", (request_id,)
        )
        return [int(r[0]) for r in cur]

    def lease(self) -> Lease | None:
        return rows.lease(
            self.conn.execute(f"SELECT {LEASE_COLS} FROM lease WHERE id = 1 FOR UPDATE").fetchone()
        )

    def controls(self) -> Controls:
        return read_controls(self.conn)

    # -- writes -----------------------------------------------------------------

    def add_service(self, name: str, default_priority: int, now: datetime) -> None:
        self.conn.execute(
            "INSERT INTO services (name, default_priority, registered_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO NOTHING",
            (name, default_priority, now),
        )

    def insert_request(self, request: SyncRequest) -> int:
        try:
            row = self.conn.execute(
                "INSERT INTO requests (service, mode, priority, state, source, requested_at) "
                "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    request.service,
                    request.mode.value,
                    request.priority,
                    request.state.value,
                    request.source.value,
                    request.requested_at,
                ),
            ).fetchone()
        except errors.UniqueViolation as exc:
            raise InvalidTransition(f"{request.service} already has a queued request") from exc
        return 0 if row is None else int(row[0])

    def update_request(self, request_id: int, **changes: Any) -> None:
        sql = _update_sql("requests", "id", tuple(changes))
        try:
            self.conn.execute(sql, (*map(encode, changes.values()), request_id))
        except errors.UniqueViolation as exc:
            raise InvalidTransition("another request is already running") from exc

    def insert_run(self, run: RunRecord) -> int:
        row = self.conn.execute(
            "INSERT INTO runs (request_id, service, requested_mode, mode, mode_reason, "
            "attempt, epoch, holder, started_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "RETURNING id",
            (
                run.request_id,
                run.service,
                run.requested_mode.value,
                run.mode.value,
                run.mode_reason,
                run.attempt,
                run.epoch,
                run.holder,
                run.started_at,
            ),
        ).fetchone()
        return 0 if row is None else int(row[0])

    def end_run(self, run: RunRecord) -> None:
        c = run.counts
        self.conn.execute(
            "UPDATE runs SET finished_at = %s, outcome = %s, error_class = %s, error = %s, "
            "fetched = %s, inserted = %s, updated = %s, unchanged = %s, deleted = %s, "
            "rejected = %s WHERE id = %s",
            (
                run.finished_at,
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
        self.conn.execute(sql, (*map(encode, changes.values()), name))

    def write_lease(self, lease: Lease) -> None:
        self.conn.execute(
            f"INSERT INTO lease (id, {LEASE_COLS}) VALUES (1, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, host = EXCLUDED.host, "
            "pid = EXCLUDED.pid, epoch = EXCLUDED.epoch, acquired_at = EXCLUDED.acquired_at, "
            "expires_at = EXCLUDED.expires_at, renewed_at = EXCLUDED.renewed_at",
            (
                lease.holder,
                lease.host,
                lease.pid,
                lease.epoch,
                lease.acquired_at,
                lease.expires_at,
                lease.renewed_at,
            ),
        )

    def write_progress(self, run_id: int, progress: Progress) -> None:
        self.conn.execute(
            "UPDATE runs SET progress = %s WHERE id = %s",
            (Jsonb(msgspec.to_builtins(progress)), run_id),
        )

    def write_plan(self, plan: RunnerPlan) -> None:
        self.conn.execute(
            "INSERT INTO runner_plan (id, holder, epoch, published_at, plan) "
            "VALUES (1, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, "
            "epoch = EXCLUDED.epoch, published_at = EXCLUDED.published_at, plan = EXCLUDED.plan",
            (plan.holder, plan.epoch, plan.published_at, Jsonb(msgspec.to_builtins(plan))),
        )

    def write_controls(self, controls: Controls) -> None:
        self.conn.execute(
            "UPDATE controls SET dispatch_paused = %s, schedule_paused = %s WHERE id = 1",
            (controls.dispatch_paused, controls.schedule_paused),
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
        row = self.conn.execute(
            "INSERT INTO events (at, kind, service, request_id, run_id, data) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (now, kind.value, service, request_id, run_id, Jsonb(data, dumps=_dumps)),
        ).fetchone()
        return Event(
            id=0 if row is None else int(row[0]),
            at=now,
            kind=kind,
            service=service,
            request_id=request_id,
            run_id=run_id,
            data=data,
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def read_lease(conn: Conn) -> Lease | None:
    return rows.lease(conn.execute(f"SELECT {LEASE_COLS} FROM lease WHERE id = 1").fetchone())


def read_controls(conn: Conn) -> Controls:
    row = conn.execute(
        "SELECT dispatch_paused, schedule_paused FROM controls WHERE id = 1"
    ).fetchone()
    if row is None:
        raise NotFound("the controls row is missing")
    return Controls(dispatch_paused=bool(row[0]), schedule_paused=bool(row[1]))
