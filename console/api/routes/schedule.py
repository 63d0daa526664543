"""The schedule as the runner applies it: every service's plan, the spacing of their
fires and the fires of one period (`Orchestrator.schedule()`), the same document as
`syncdeck schedule --json`. Overrides are set per service (`/api/services/{name}/schedule`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from console.api.auth import read
from console.api.responses import success
from console.api.schemas import READ_ERRORS, ScheduleAnswer
from console.api.state import orchestrator
from console.documents import schedule_document
from core.orchestrator import Orchestrator

router = APIRouter(prefix="/api/schedule", tags=["schedule"])


@router.get("", response_model=ScheduleAnswer, responses=READ_ERRORS, dependencies=[Depends(read)])
async def get_schedule(orch: Annotated[Orchestrator, Depends(orchestrator)]) -> Response:
    return success(schedule_document(await orch.schedule()))
