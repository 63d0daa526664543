"""The event stream: the store's event log as Server-Sent Events, resumable by id.

Every event comes from the store's log, read in id order after a cursor, so the
SSE `id:` is the store's event id. A client that reconnects with
`Last-Event-ID` gets every event after it, without gaps or duplicates (progress
events that were never persisted are not part of the log, and not sent). The
orchestrator's in-process bus, which also relays other processes' events, is
used only as a wake-up; a short poll stands behind it. When the client asks
for events older than the log still holds, it is told once (`stream.pruned`)
before the oldest kept; a cursor past the log's end (a store reset) is told
too (`stream.reset`) and restarts at the end. Keep-alive comments go out while
idle; the stream ends when `stopping` is set (server shutdown), and at `until`, when
the client's token stops being accepted, after a last `stream.expired` notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from core.events import Subscription
from core.models import Event
from core.orchestrator import Orchestrator

BATCH = 500
RETRY_MS = 2000
"""How long a disconnected client waits before reconnecting (the SSE `retry:` field)."""


def frame(event: Event) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (
        event.id,
        event.kind.value.encode(),
        msgspec.json.encode(event),
    )


def notice(kind: str, **data: int) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


async def event_stream(
    orch: Orchestrator,
    after: int | None,
    *,
    follow: bool,
    stopping: asyncio.Event,
    until: float | None = None,
    keepalive_s: float = 15.0,
    poll_s: float = 1.0,
) -> AsyncIterator[bytes]:
    """Frames for every event after `after` (None: from now on); with `follow=False`,
    only the events already logged; never past `until` (`time.time()` seconds)."""
    subscription = orch.events(maxsize=64)  # subscribe first: nothing committed later is missed
    stop: asyncio.Future[Any] = asyncio.ensure_future(stopping.wait())
    try:
        last = await orch.last_event_id()
        cursor = last if after is None else after
        yield f"retry: {RETRY_MS}\n\n".encode()
        if cursor > last:
            yield notice("stream.reset", after=cursor, last_event_id=last)
            cursor = last
        first_read = after is not None and after > 0
        sent_at = time.monotonic()
        while not stopping.is_set():
            if until is not None and time.time() >= until:
                yield notice("stream.expired", valid_until=int(until))
                return
            subscription.pending()  # whatever woke us is read from the log below
            batch = await orch.events_since(cursor, BATCH)
            if first_read and batch and batch[0].id > cursor + 1:
                yield notice("stream.pruned", after=cursor, next_id=batch[0].id)
            first_read = False
            for event in batch:
                yield frame(event)
                cursor = event.id
                sent_at = time.monotonic()
            if len(batch) == BATCH:
                continue
            if not follow:
                return
            left = poll_s if until is None else max(0.0, min(poll_s, until - time.time()))
            await _wake(subscription, stop, left)
            if time.monotonic() - sent_at >= keepalive_s:
                yield b": keep-alive\n\n"
                sent_at = time.monotonic()
    finally:
        subscription.close()
        stop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stop


async def _wake(subscription: Subscription, stop: asyncio.Future[Any], timeout: float) -> None:
    """Return at the next bus event, at shutdown, or after `timeout`."""
    nxt: asyncio.Future[Any] = asyncio.ensure_future(subscription.__anext__())
    try:
        await asyncio.wait({nxt, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not nxt.done():
            nxt.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await nxt
