"""The run history, with the same fields as `history --json`. Unknown service or run 404.

`GET /api/runs/{id}` reads the history newest first down to the id (the public API
reads runs by service or request, not by id), so an old run costs a longer read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from console.api.auth import read
from console.api.errors import ApiError
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
    newest = await orch.history(limit=1)
    if newest and run_id <= newest[0].id:
        runs = await orch.history(limit=newest[0].id - run_id + 1)
        if runs and runs[-1].id == run_id:
            return success(run_document(runs[-1]))
    raise ApiError(404, "not_found", f"no run #{run_id}")
