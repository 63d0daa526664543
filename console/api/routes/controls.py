"""Pausing and resuming dispatching (requests still queue) or the schedule."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Response

from console.api.auth import operate, read
from console.api.responses import success
from console.api.schemas import READ_ERRORS, WRITE_ERRORS, ControlBody, ControlsAnswer
from console.api.state import orchestrator
from core.orchestrator import Orchestrator

router = APIRouter(prefix="/api/controls", tags=["controls"])

Orch = Annotated[Orchestrator, Depends(orchestrator)]


async def _controls(orch: Orchestrator) -> Response:
    controls = await orch.controls()
    return success(
        {
            "dispatch_paused": controls.dispatch_paused,
            "schedule_paused": controls.schedule_paused,
        }
    )


@router.get("", response_model=ControlsAnswer, responses=READ_ERRORS, dependencies=[Depends(read)])
async def get_controls(orch: Orch) -> Response:
    return await _controls(orch)


@router.post(
    "/{action}",
    response_model=ControlsAnswer,
    responses=WRITE_ERRORS,
    dependencies=[Depends(operate)],
    summary="Pause or resume dispatching (default) or the schedule",
)
async def switch(
    orch: Orch,
    action: Literal["pause", "resume"],
    body: Annotated[ControlBody | None, Body()] = None,
) -> Response:
    target = "dispatch" if body is None else body.target
    if target == "schedule":
        await (orch.pause_schedule() if action == "pause" else orch.resume_schedule())
    else:
        await (orch.pause() if action == "pause" else orch.resume())
    return await _controls(orch)
