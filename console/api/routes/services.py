"""The services: their views (state, health, schedule), default priorities and schedule
overrides, persisted in the store, and an operator's probe of an open circuit. An
unknown service is a 404; a probe of a circuit that is not open, a 409."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from console.api.auth import Principal, operate, read
from console.api.errors import ApiError
from console.api.responses import success
from console.api.schemas import (
    READ_ERRORS,
    WRITE_ERRORS,
    PriorityBody,
    QueuedAnswer,
    ScheduleBody,
    ServiceAnswer,
    ServicesAnswer,
    errors,
)
from console.api.snapshots import SnapshotCache
from console.api.state import orchestrator, snapshots
from console.documents import request_document, status_document
from core.orchestrator import Orchestrator

router = APIRouter(prefix="/api/services", tags=["services"])

Orch = Annotated[Orchestrator, Depends(orchestrator)]
Name = Annotated[str, Path(description="a registered service")]


async def _service(orch: Orchestrator, name: str) -> Response:
    for doc in status_document(await orch.snapshot())["services"]:  # after a change: exact
        if doc["name"] == name:
            return success(doc)
    raise ApiError(404, "not_found", f"unknown service {name!r}")


@router.get("", response_model=ServicesAnswer, responses=READ_ERRORS, dependencies=[Depends(read)])
async def list_services(cache: Annotated[SnapshotCache, Depends(snapshots)]) -> Response:
    return success(status_document(await cache.get())["services"])


@router.put(
    "/{name}/priority",
    response_model=ServiceAnswer,
    responses=WRITE_ERRORS,
    dependencies=[Depends(operate)],
    summary="Set a service's default priority",
)
async def set_priority(orch: Orch, name: Name, body: PriorityBody) -> Response:
    await orch.set_default_priority(name, body.priority)
    return await _service(orch, name)


@router.put(
    "/{name}/schedule",
    response_model=ServiceAnswer,
    responses=WRITE_ERRORS,
    dependencies=[Depends(operate)],
    summary="Override a service's schedule; a field left out follows the configuration",
)
async def set_schedule(orch: Orch, name: Name, body: ScheduleBody) -> Response:
    await orch.set_schedule(name, body.interval_s, body.offset_s, body.enabled)
    return await _service(orch, name)


@router.delete(
    "/{name}/schedule",
    response_model=ServiceAnswer,
    responses=WRITE_ERRORS,
    dependencies=[Depends(operate)],
    summary="Drop every schedule override of a service",
)
async def reset_schedule(orch: Orch, name: Name) -> Response:
    await orch.set_schedule(name, None, None, None)
    return await _service(orch, name)


@router.post(
    "/{name}/probe",
    status_code=202,
    response_model=QueuedAnswer,
    responses={**WRITE_ERRORS, **errors(409)},
    summary="Probe a service's open circuit now, not after its cooldown",
    description="The circuit goes half-open and the service's queued request (queued now "
    "if it has none) may start at once: a success closes the circuit, a failure opens it "
    "again with a fresh cooldown. Recorded as a `circuit.probe_requested` event with the "
    "token's subject. 409 when the circuit is not open.",
)
async def probe(orch: Orch, name: Name, caller: Annotated[Principal, Depends(operate)]) -> Response:
    request = await orch.probe_now(name, by="api", subject=caller.subject)
    message = f"the {name} circuit is half-open: request #{request.id} probes it"
    return success({"request": request_document(request)}, message, status=202)
