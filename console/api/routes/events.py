"""`GET /api/events`: the event stream (see `console.api.sse`), read role."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from console.api.auth import read
from console.api.errors import ApiError
from console.api.schemas import MAX_ID, READ_ERRORS
from console.api.sse import event_stream
from console.api.state import api_state

router = APIRouter(tags=["events"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get(
    "/api/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events; `id:` is the store's event id",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **READ_ERRORS,
    },
    dependencies=[Depends(read)],
    summary="Every event from every process, resumable with Last-Event-ID",
)
async def events(
    request: Request,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="start after this event id")
    ] = None,
    follow: Annotated[
        bool, Query(description="false: send the events already logged, then close")
    ] = True,
    last_event_id: Annotated[
        str | None, Header(description="resume after this event id (wins over `after`)")
    ] = None,
) -> StreamingResponse:
    cursor = after
    if last_event_id is not None and last_event_id.strip():
        try:
            cursor = int(last_event_id.strip())
        except ValueError:
            raise ApiError(422, "invalid_request", "Last-Event-ID: not an event id") from None
        if not 0 <= cursor <= MAX_ID:
            raise ApiError(422, "invalid_request", "Last-Event-ID: not an event id")
    state = api_state(request)
    stream = event_stream(state.orch, cursor, follow=follow, stopping=state.stopping)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)
