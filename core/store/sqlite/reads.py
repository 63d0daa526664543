"""The SQLite store's reads: the view, history and the event log.

Each function takes the connection (and, for the view, the store's now) and
runs on whichever thread holds it; several statements that must agree are
read inside one `BEGIN ... COMMIT`, which in WAL mode is one snapshot.

Raises: `sqlite3.Error`, which the store maps to `StoreError`.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from core.models import (
    Event,
    EventKind,
    RequestState,
    RunRecord,
    RunStats,
    ServiceState,
    to_datetime,
)
from core.store import stats
from core.store.base import StoreView
from core.store.sqlite import rows
from core.store.sqlite.rows import REQUEST_COLS, RUN_COLS, SERVICE_COLS
from core.store.sqlite.tx import read_controls, read_lease
from core.store.stats import Dialect

_LAST_RUNS = (
    f"SELECT {', '.join('r.' + c for c in RUN_COLS.split(', '))} "
    "FROM runs r JOIN services s ON r.id = s.last_run_id"
)


def view(
    db: sqlite3.Connection, now: datetime, history: bool, problem: str | None = None
) -> StoreView:
    db.execute("BEGIN")
    try:
        controls = read_controls(db)
        service_states = services(db)
        requests = [
            rows.request(r)
            for r in db.execute(
                f"SELECT {REQUEST_COLS} FROM requests "
                "WHERE state IN ('queued', 'running') ORDER BY id"
            )
        ]
        running = next((r for r in requests if r.state == RequestState.RUNNING), None)
        running_run = None
        if running is not None and history:
            row = db.execute(
                f"SELECT {RUN_COLS} FROM runs WHERE request_id = ? AND outcome IS NULL "
                "ORDER BY id DESC LIMIT 1",
                (running.id,),
            ).fetchone()
            running_run = None if row is None else rows.run(row)
        last_runs = {}
        if history:
            last_runs = {run.service: run for run in map(rows.run, db.execute(_LAST_RUNS))}
        lease = read_lease(db)
    finally:
        db.execute("COMMIT")
    return StoreView(
        now=now,
        controls=controls,
        services=service_states,
        queued=[r for r in requests if r.state == RequestState.QUEUED],
        running=running,
        running_run=running_run,
        lease=lease,
        last_runs=last_runs,
        problem=problem,
    )


def services(db: sqlite3.Connection) -> list[ServiceState]:
    return [
        rows.service(r) for r in db.execute(f"SELECT {SERVICE_COLS} FROM services ORDER BY name")
    ]


def runs(
    db: sqlite3.Connection, service: str | None, limit: int, request_id: int | None
) -> list[RunRecord]:
    where: list[str] = []
    args: list[object] = []
    if service is not None:
        where.append("service = ?")
        args.append(service)
    if request_id is not None:
        where.append("request_id = ?")
        args.append(request_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    cursor = db.execute(
        f"SELECT {RUN_COLS} FROM runs {clause} ORDER BY id DESC LIMIT ?", (*args, limit)
    )
    return [rows.run(row) for row in cursor]


def events_since(db: sqlite3.Connection, after_id: int, limit: int) -> list[Event]:
    cursor = db.execute(
        "SELECT id, at, kind, service, request_id, run_id, data FROM events "
        "WHERE id > ? ORDER BY id LIMIT ?",
        (after_id, limit),
    )
    return [
        Event(
            id=r[0],
            at=to_datetime(r[1]),
            kind=EventKind(r[2]),
            service=r[3],
            request_id=r[4],
            run_id=r[5],
            data=_data(r[6]),
        )
        for r in cursor
    ]


def _data(text: str) -> dict[str, Any]:
    data = json.loads(text)
    return data if isinstance(data, dict) else {"value": data}


def last_event_id(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])


SQLITE_STATS = Dialect(
    duration_s="finished_at - started_at",
    wait_s="MAX(0, runs.started_at - requests.requested_at)",
    param="?",
)


def run_stats(
    db: sqlite3.Connection, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
) -> RunStats:
    db.execute("BEGIN")  # one snapshot for every aggregate
    try:
        return stats.run_stats(
            lambda sql, params: db.execute(sql, tuple(params)).fetchall(),
            SQLITE_STATS,
            duration_buckets,
            wait_buckets,
            to_datetime,
        )
    finally:
        db.execute("COMMIT")
