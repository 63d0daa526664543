"""The PostgreSQL store's reads: the view, history and the event log.

Each function takes a pooled connection in autocommit mode and runs on a store
thread. A single statement reads one snapshot; the view, which must agree
with itself across several statements, reads inside one REPEATABLE READ READ
ONLY transaction. Reads take no locks and never wait for a writer.

Raises: `psycopg.Error`, which the connection maps to `StoreError`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from core.models import (
    Event,
    EventKind,
    Progress,
    RequestState,
    RunnerPlan,
    RunRecord,
    RunStats,
    ServiceState,
)
from core.store import stats
from core.store.base import StoreView
from core.store.postgres import rows
from core.store.postgres.rows import REQUEST_COLS, RUN_COLS, SERVICE_COLS, Conn
from core.store.postgres.tx import read_controls, read_lease
from core.store.stats import Dialect

_LAST_RUNS = (
    f"SELECT {', '.join('r.' + c for c in RUN_COLS.split(', '))} "
    "FROM runs r JOIN services s ON r.id = s.last_run_id"
)


def view(conn: Conn, now: Callable[[Conn], datetime], history: bool) -> StoreView:
    """Everything in one snapshot; `now` is read first, inside it."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        at = now(conn)
        controls = read_controls(conn)
        service_states = services(conn)
        requests = [
            rows.request(r)
            for r in conn.execute(
                f"SELECT {REQUEST_COLS} FROM requests "
                "WHERE state IN ('queued', 'running') ORDER BY id"
            )
        ]
        running = next((r for r in requests if r.state == RequestState.RUNNING), None)
        running_run = None
        progress = None
        if running is not None and history:
            row = conn.execute(
                f"SELECT {RUN_COLS}, progress FROM runs WHERE request_id = %s "
                "AND outcome IS NULL ORDER BY id DESC LIMIT 1",
                (running.id,),
            ).fetchone()
            running_run = None if row is None else rows.run(row)
            if row is not None and row[-1] is not None:
                progress = msgspec.convert(row[-1], Progress)
        last_runs = {}
        plan = None
        if history:
            last_runs = {run.service: run for run in map(rows.run, conn.execute(_LAST_RUNS))}
            found = conn.execute("SELECT plan FROM runner_plan WHERE id = 1").fetchone()
            plan = None if found is None else msgspec.convert(found[0], RunnerPlan)
        lease = read_lease(conn)
    return StoreView(
        now=at,
        controls=controls,
        services=service_states,
        queued=[r for r in requests if r.state == RequestState.QUEUED],
        running=running,
        running_run=running_run,
        lease=lease,
        last_runs=last_runs,
        running_progress=progress,
        plan=plan,
    )


def services(conn: Conn) -> list[ServiceState]:
    cur = conn.execute(f"SELECT {SERVICE_COLS} FROM services ORDER BY name")
    return [rows.service(r) for r in cur]


def runs(conn: Conn, service: str | None, limit: int, request_id: int | None) -> list[RunRecord]:
    where: list[str] = []
    args: list[object] = []
    if service is not None:
        where.append("service = %s")
        args.append(service)
    if request_id is not None:
        where.append("request_id = %s")
        args.append(request_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    cur = conn.execute(
        f"SELECT {RUN_COLS} FROM runs {clause} ORDER BY id DESC LIMIT %s", (*args, limit)
    )
    return [rows.run(row) for row in cur]


def events_since(conn: Conn, after_id: int, limit: int) -> list[Event]:
    cur = conn.execute(
        "SELECT id, at, kind, service, request_id, run_id, data FROM events "
        "WHERE id > %s ORDER BY id LIMIT %s",
        (after_id, limit),
    )
    return [
        Event(
            id=r[0],
            at=r[1],
            kind=EventKind(r[2]),
            service=r[3],
            request_id=r[4],
            run_id=r[5],
            data=_data(r[6]),
        )
        for r in cur
    ]


def _data(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}


def last_event_id(conn: Conn) -> int:
    row = conn.execute("SELECT COALESCE(max(id), 0) FROM events").fetchone()
    return 0 if row is None else int(row[0])


POSTGRES_STATS = Dialect(
    duration_s="EXTRACT(EPOCH FROM finished_at - started_at)::float8",
    wait_s="GREATEST(0, EXTRACT(EPOCH FROM runs.started_at - requests.requested_at))::float8",
    param="%s",
)


def run_stats(
    conn: Conn, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
) -> RunStats:
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return stats.run_stats(
            lambda sql, params: list(conn.execute(sql, tuple(params)).fetchall()),
            POSTGRES_STATS,
            duration_buckets,
            wait_buckets,
            lambda value: value,
        )
