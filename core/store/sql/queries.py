"""The store's read queries, written once for every backend.

Each function runs its statements through the backend's `fetch` and decodes
with its `Dialect`; the backend opens the connection and, where several
statements must agree (the view), the one read snapshot around them. The
view's statements are also offered as a list (`view_statements`), none
depending on another's result, so that a backend with pipelining sends them
in one round trip and decodes them with `view_from`. Reads
take no write lock, so they never wait for a writer on either backend.

Raises: whatever the backend's `fetch` raises; `NotFound` when the controls
row is missing (a store never opened by syncdeck) or a request or run is not there.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from core.store.sql.columns import (
    LEASE_COLS,
    REQUEST_COLS,
    RUN_COLS,
    SERVICE_COLS,
    Dialect,
    Fetch,
    Row,
)

_LAST_RUNS = (
    f"SELECT {', '.join('r.' + c for c in RUN_COLS.split(', '))} "
    "FROM runs r JOIN services s ON r.id = s.last_run_id"
)
_CONTROLS = "SELECT dispatch_paused, schedule_paused FROM controls WHERE id = 1"
_SERVICES = f"SELECT {SERVICE_COLS} FROM services ORDER BY name"
_LEASE = f"SELECT {LEASE_COLS} FROM lease WHERE id = 1"


def request(fetch: Fetch, d: Dialect, request_id: int) -> SyncRequest:
    found = fetch(f"SELECT {REQUEST_COLS} FROM requests WHERE id = {d.param}", (request_id,))
    if not found:
        raise NotFound(f"no request #{request_id}")
    return d.decode.request(found[0])


def run(fetch: Fetch, d: Dialect, run_id: int) -> RunRecord:
    found = fetch(f"SELECT {RUN_COLS} FROM runs WHERE id = {d.param}", (run_id,))
    if not found:
        raise NotFound(f"no run #{run_id}")
    return d.decode.run(found[0])


def controls(fetch: Fetch) -> Controls:
    return _controls(fetch(_CONTROLS, ()))


def _controls(found: Sequence[Row]) -> Controls:
    if not found:
        raise NotFound("the controls row is missing")
    return Controls(dispatch_paused=bool(found[0][0]), schedule_paused=bool(found[0][1]))


def lease(fetch: Fetch, d: Dialect) -> Lease | None:
    found = fetch(_LEASE, ())
    return d.decode.lease(found[0] if found else None)


def services(fetch: Fetch, d: Dialect) -> list[ServiceState]:
    return [d.decode.service(r) for r in fetch(_SERVICES, ())]


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


def view_statements(d: Dialect, history: bool) -> list[tuple[str, tuple[object, ...]]]:
    """The view's statements, none depending on another's result, so that a backend may
    send them together; `view_from` decodes their rows, in this order."""
    statements: list[tuple[str, tuple[object, ...]]] = [
        (
            f"SELECT {REQUEST_COLS} FROM requests WHERE state IN ('queued', 'running') ORDER BY id",
            (),
        ),
        (_CONTROLS, ()),
        (_SERVICES, ()),
        (_LEASE, ()),
    ]
    if history:
        statements += [
            (
                f"SELECT {RUN_COLS}, progress FROM runs WHERE outcome IS NULL AND request_id IN "
                "(SELECT id FROM requests WHERE state = 'running') ORDER BY id DESC LIMIT 1",
                (),
            ),
            (_LAST_RUNS, ()),
            ("SELECT plan FROM runner_plan WHERE id = 1", ()),
        ]
    return statements


def view_from(rows: list[Sequence[Row]], d: Dialect, now: datetime, history: bool) -> StoreView:
    """The view from the rows of `view_statements(d, history)`, read in one snapshot."""
    found = iter(rows)
    requests = [d.decode.request(r) for r in next(found)]
    controls_rows, services_rows, lease_rows = next(found), next(found), next(found)
    running = next((r for r in requests if r.state == RequestState.RUNNING), None)
    running_run = None
    progress = None
    last_runs = {}
    plan = None
    if history:
        open_runs, last, published = next(found), next(found), next(found)
        if running is not None and open_runs:
            running_run = d.decode.run(open_runs[0])
            if open_runs[0][-1] is not None:
                progress = d.from_json(open_runs[0][-1], Progress)
        last_runs = {run.service: run for run in map(d.decode.run, last)}
        plan = d.from_json(published[0][0], RunnerPlan) if published else None
    return StoreView(
        now=now,
        controls=_controls(controls_rows),
        services=[d.decode.service(r) for r in services_rows],
        queued=[r for r in requests if r.state == RequestState.QUEUED],
        running=running,
        running_run=running_run,
        lease=d.decode.lease(lease_rows[0] if lease_rows else None),
        last_runs=last_runs,
        running_progress=progress,
        plan=plan,
    )


def view(fetch: Fetch, d: Dialect, now: datetime, history: bool) -> StoreView:
    """The view's statements one after the other; the caller runs them inside one read
    snapshot."""
    rows = [fetch(sql, params) for sql, params in view_statements(d, history)]
    return view_from(rows, d, now, history)
