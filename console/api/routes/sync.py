"""The seed's two endpoints, with the shapes its web app and scripts already read.

`POST /api/sync/{service}/{mode}` queues at once (202) and never waits on the
run; `GET /api/sync/status` carries the seed's `statuses` and `health` beside
the queue, the active run with progress, the runner and the controls.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Response

from console.api.auth import operate, read
from console.api.responses import Json, success, success_body
from console.api.schemas import (
    READ_ERRORS,
    WRITE_ERRORS,
    QueuedAnswer,
    StatusAnswer,
    SyncBody,
)
from console.api.snapshots import SnapshotCache
from console.api.state import orchestrator, snapshots
from console.documents import request_document, status_document
from core.models import HealthState, RequestSource, RunOutcome, ServiceView, Snapshot, SyncMode
from core.orchestrator import Orchestrator

router = APIRouter(prefix="/api/sync", tags=["sync"])

Orch = Annotated[Orchestrator, Depends(orchestrator)]

FAILED = {RunOutcome.FAILED, RunOutcome.TIMED_OUT, RunOutcome.INTERRUPTED}


@router.post(
    "/{service}/{mode}",
    status_code=202,
    response_model=QueuedAnswer,
    responses=WRITE_ERRORS,
    dependencies=[Depends(operate)],
    summary="Queue a sync (or merge into the service's queued request)",
)
async def request_sync(
    orch: Orch,
    service: Annotated[str, Path(description="customers, products, prices, orders, ...")],
    mode: SyncMode,
    body: Annotated[SyncBody | None, Body()] = None,
) -> Response:
    priority = None if body is None else body.priority
    request = await orch.request(service, mode, priority, source=RequestSource.API)
    message = (
        f"merged into queued request #{request.id}" if request.merged else f"{service} sync queued"
    )
    return success({"request": request_document(request)}, message, status=202)


@router.get(
    "/status",
    response_model=StatusAnswer,
    responses=READ_ERRORS,
    dependencies=[Depends(read)],
    summary="Every service's status and health, the queue, the active run and the runner",
)
async def sync_status(cache: Annotated[SnapshotCache, Depends(snapshots)]) -> Response:
    body = await cache.derive("status", lambda snapshot: success_body(status_data(snapshot)))
    return Json.raw(body)


def status_data(snapshot: Snapshot) -> dict[str, Any]:
    doc = status_document(snapshot)
    services = {
        s.name: {
            "isHealthy": s.health == HealthState.HEALTHY,
            "state": s.health.value,
            "reasons": s.health_reasons,
        }
        for s in snapshot.services
    }
    return {
        "statuses": [_seed_status(s, snapshot) for s in snapshot.services],
        "health": {
            "allHealthy": all(entry["isHealthy"] for entry in services.values()),
            "services": services,
        },
        "at": doc["at"],
        "dispatch": doc["dispatch"],
        "queue": doc["queue"],
        "active": doc["active"],
        "runner": doc["runner"],
        "controls": {
            "dispatch_paused": doc["dispatch_paused"],
            "schedule_paused": doc["schedule_paused"],
        },
        "services": doc["services"],
        "is_runner": snapshot.is_runner,
    }


def _seed_status(service: ServiceView, snapshot: Snapshot) -> dict[str, Any]:
    """The seed's five states: a running or queued service says so; otherwise its last
    run decides (succeeded: completed; failed, timed out, interrupted: error)."""
    last = service.last_run
    started = None if last is None else last.started_at
    completed = None if last is None else last.finished_at
    error = None
    if service.state in ("running", "stalled", "orphaned"):  # its run is still recorded running
        status = "running"
        active = snapshot.active
        if active is not None and active.run is not None:
            started, completed = active.run.started_at, None
    elif service.state in ("queued", "retry_wait"):
        status = "queued"
    elif last is not None and last.outcome == RunOutcome.SUCCEEDED:
        status = "completed"
    elif last is not None and last.outcome in FAILED:
        status = "error"
        error = last.error or (last.outcome.value if last.outcome else None)
    else:
        status = "idle"
    return {
        "type": service.name,
        "status": status,
        "startedAt": None if started is None else started.isoformat(),
        "completedAt": None if completed is None else completed.isoformat(),
        "error": error,
    }
