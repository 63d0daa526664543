"""The store's read queries, written once for every backend.

Each function runs its statements through the backend's `fetch` and decodes
with its `Dialect`; the backend opens the connection and, where several
statements must agree (the view), the one read snapshot around them. Reads
take no write lock, so they never wait for a writer on either backend.

Raises: whatever the backend's `fetch` raises; `NotFound` when the controls
row is missing (a store never opened by syncdeck) or a request is not there.
"""

from __future__ import annotations

from datetime import datetime

from core.errors import NotFound
from core.models import (
    Controls,
    Event,
    EventKind,
    Lease,
    Progress,
    RequestState,
    RunnerPlan,
    RunRecord,
    ServiceState,
    SyncRequest,
)
from core.store.base import StoreView
from core.store.columns import LEASE_COLS, REQUEST_COLS, RUN_COLS, SERVICE_COLS, Dialect, Fetch

_LAST_RUNS = (
    f"SELECT {', '.join('r.' + c for c in RUN_COLS.split(', '))} "
    "FROM runs r JOIN services s ON r.id = s.last_run_id"
)


def request(fetch: Fetch, d: Dialect, request_id: int) -> SyncRequest:
    found = fetch(f"SELECT {REQUEST_COLS} FROM requests WHERE id = {d.param}", (request_id,))
    if not found:
        raise NotFound(f"no request #{request_id}")
    return d.decode.request(found[0])


def controls(fetch: Fetch) -> Controls:
    found = fetch("SELECT dispatch_paused, schedule_paused FROM controls WHERE id = 1", ())
    if not found:
        raise NotFound("the controls row is missing")
    return Controls(dispatch_paused=bool(found[0][0]), schedule_paused=bool(found[0][1]))


def lease(fetch: Fetch, d: Dialect) -> Lease | None:
    found = fetch(f"SELECT {LEASE_COLS} FROM lease WHERE id = 1", ())
    return d.decode.lease(found[0] if found else None)


def services(fetch: Fetch, d: Dialect) -> list[ServiceState]:
    return [
        d.decode.service(r) for r in fetch(f"SELECT {SERVICE_COLS} FROM services ORDER BY name", ())
    ]


def runs(
    fetch: Fetch, d: Dialect, service: str | None, limit: int, request_id: int | None
) -> list[RunRecord]:
    where: list[str] = []
    args: list[object] = []
    if service is not None:
        where.append(f"service = {d.param}")
        args.append(service)
    if request_id is not None:
        where.append(f"request_id = {d.param}")
        args.append(request_id)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    found = fetch(
        f"SELECT {RUN_COLS} FROM runs {clause} ORDER BY id DESC LIMIT {d.param}", (*args, limit)
    )
    return [d.decode.run(row) for row in found]


def events_since(fetch: Fetch, d: Dialect, after_id: int, limit: int) -> list[Event]:
    found = fetch(
        "SELECT id, at, kind, service, request_id, run_id, data FROM events "
        f"WHERE id > {d.param} ORDER BY id LIMIT {d.param}",
        (after_id, limit),
    )
    return [
        Event(
            id=r[0],
            at=d.decode.instant(r[1]),
            kind=EventKind(r[2]),
            service=r[3],
            request_id=r[4],
            run_id=r[5],
            data=d.event_data(r[6]),
        )
        for r in found
    ]


def last_event_id(fetch: Fetch) -> int:
    found = fetch("SELECT COALESCE(MAX(id), 0) FROM events", ())
    return int(found[0][0]) if found else 0


def view(fetch: Fetch, d: Dialect, now: datetime, history: bool) -> StoreView:
    """The view's statements; the caller runs them inside one read snapshot."""
    requests = [
        d.decode.request(r)
        for r in fetch(
            f"SELECT {REQUEST_COLS} FROM requests WHERE state IN ('queued', 'running') ORDER BY id",
            (),
        )
    ]
    running = next((r for r in requests if r.state == RequestState.RUNNING), None)
    running_run = None
    progress = None
    if running is not None and history:
        found = fetch(
            f"SELECT {RUN_COLS}, progress FROM runs WHERE request_id = {d.param} "
            "AND outcome IS NULL ORDER BY id DESC LIMIT 1",
            (running.id,),
        )
        if found:
            running_run = d.decode.run(found[0])
            if found[0][-1] is not None:
                progress = d.from_json(found[0][-1], Progress)
    last_runs = {}
    plan = None
    if history:
        last_runs = {run.service: run for run in map(d.decode.run, fetch(_LAST_RUNS, ()))}
        published = fetch("SELECT plan FROM runner_plan WHERE id = 1", ())
        plan = d.from_json(published[0][0], RunnerPlan) if published else None
    return StoreView(
        now=now,
        controls=controls(fetch),
        services=services(fetch, d),
        queued=[r for r in requests if r.state == RequestState.QUEUED],
        running=running,
        running_run=running_run,
        lease=lease(fetch, d),
        last_runs=last_runs,
        running_progress=progress,
        plan=plan,
    )
