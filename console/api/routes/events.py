"""`GET /api/events`: the event stream (see `console.api.sse`), read role; it ends when
the token stops being accepted."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from console.api.auth import Principal, read
from console.api.errors import ApiError
from console.api.schemas import READ_ERRORS, EventsQuery
from console.api.sse import event_stream
from console.api.state import api_state

router = APIRouter(tags=["events"])

LAST_ID = re.compile(r"[0-9]{1,18}")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_EVENT = {
    "type": "object",
    "description": "One event: `id` the store's event id, `event` its kind, `data` the event "
    "as JSON. `stream.pruned` and `stream.reset` notices carry no id.",
    "properties": {
        "id": {"type": "string"},
        "event": {"type": "string"},
        "data": {"type": "string"},
        "retry": {"type": "string"},
    },
}


@router.get(
    "/api/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Server-Sent Events; `id:` is the store's event id",
            "content": {"text/event-stream": {"schema": SSE_EVENT}},
        },
        **READ_ERRORS,
    },
    summary="Every event from every process, resumable with Last-Event-ID",
    description="Server-Sent Events from the store's event log. Send `Last-Event-ID: N` "
    "(or `?after=N`) to get every event after id N. The stream ends, after an "
    "`event: stream.expired`, when the token stops being accepted.",
)
async def events(
    request: Request,
    principal: Annotated[Principal, Depends(read)],
    query: Annotated[EventsQuery, Query()],
    last_event_id: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> StreamingResponse:
    """A `Last-Event-ID` header (an event id, as the browser's EventSource sends it on a
    reconnect) wins over `after`."""
    cursor = query.after
    if last_event_id is not None:
        if not LAST_ID.fullmatch(last_event_id.strip()):
            raise ApiError(422, "invalid_request", "Last-Event-ID: not an event id")
        cursor = int(last_event_id)
    state = api_state(request)
    stream = event_stream(
        state.orch,
        cursor,
        follow=query.follow,
        stopping=state.stopping,
        until=principal.valid_until,
    )
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)
