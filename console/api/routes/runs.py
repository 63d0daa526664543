"""The run history, with the same fields as `history --json`. Unknown service or run 404.

`GET /api/runs/{id}` reads the one run by its id (`Orchestrator.get_run`), so an old
run costs what a new one does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from console.api.auth import read
from console.api.responses import success
from console.api.schemas import MAX_ID, READ_ERRORS, RunAnswer, RunsAnswer, RunsQuery, errors
from console.api.state import orchestrator
from console.documents import run_document
from core.orchestrator import Orchestrator

router = APIRouter(prefix="/api/runs", tags=["runs"])

Orch = Annotated[Orchestrator, Depends(orchestrator)]


@router.get(
    "",
    response_model=RunsAnswer,
    responses={**READ_ERRORS, **errors(404)},
    dependencies=[Depends(read)],
    summary="Finished and running runs, newest first",
)
async def list_runs(orch: Orch, query: Annotated[RunsQuery, Query()]) -> Response:
    runs = await orch.history(query.service, query.limit)
    return success([run_document(run) for run in runs])


@router.get(
    "/{run_id}",
    response_model=RunAnswer,
    responses={**READ_ERRORS, **errors(404)},
    dependencies=[Depends(read)],
)
async def get_run(orch: Orch, run_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    return success(run_document(await orch.get_run(run_id)))
