"""One request: read it, change its priority, cancel it (queued: at once; running: the
runner is asked to stop, cooperatively, then by force after `cancel_grace_s`).
Unknown id 404; cancelling or reprioritising an ended request 409."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from console.api.auth import operate, read
from console.api.responses import success
from console.api.schemas import MAX_ID, READ_ERRORS, PriorityBody, RequestAnswer, errors
from console.api.state import orchestrator
from console.documents import request_document
from core.models import RequestState
from core.orchestrator import Orchestrator

router = APIRouter(prefix="/api/requests", tags=["requests"])

Orch = Annotated[Orchestrator, Depends(orchestrator)]
RequestId = Annotated[int, Path(ge=1, le=MAX_ID)]
CHANGE_ERRORS = errors(401, 403, 404, 409, 413, 415, 422, 503)


@router.get(
    "/{request_id}",
    response_model=RequestAnswer,
    responses={**READ_ERRORS, **errors(404)},
    dependencies=[Depends(read)],
)
async def get_request(orch: Orch, request_id: RequestId) -> Response:
    request = await orch.get_request(request_id)
    return success({"request": request_document(request)})


@router.patch(
    "/{request_id}",
    response_model=RequestAnswer,
    responses=CHANGE_ERRORS,
    dependencies=[Depends(operate)],
    summary="Change a queued request's priority",
)
async def change_request(orch: Orch, request_id: RequestId, body: PriorityBody) -> Response:
    await orch.set_priority(request_id, body.priority)
    request = await orch.get_request(request_id)
    message = f"request #{request_id}: priority {body.priority}"
    return success({"request": request_document(request)}, message)


@router.delete(
    "/{request_id}",
    response_model=RequestAnswer,
    responses=CHANGE_ERRORS,
    dependencies=[Depends(operate)],
    summary="Cancel a queued request, or ask the running one to stop",
)
async def cancel_request(orch: Orch, request_id: RequestId) -> Response:
    request = await orch.cancel(request_id)
    message = (
        f"request #{request_id}: asked the running {request.service} sync to stop"
        if request.state == RequestState.RUNNING
        else f"request #{request_id}: cancelled"
    )
    return success({"request": request_document(request)}, message)
