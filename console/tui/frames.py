"""Drawing the console from `snapshot()`, at a bounded rate, whoever asks for a frame.

However many events arrive, the screen is redrawn at most ten times a second
(principle 10): events ask for a frame at most five times a second
(`request_redraw`), an operator's key gets one at once (`redraw_now`) unless ten
were drawn in the last second. A frame reads one snapshot and updates every
pane by row key, so the operator's cursor and scroll survive it. The frame's new
event-log lines go in just after it is painted: a line makes the log taller, which
lays the whole screen out again, and a key's effect should not wait for that. A store that
closes under a frame in flight at exit ends that frame quietly; a store that
broke (`StoreBroken`) ends the frames (`store_broke`: the app shows why); any
other `StoreError` from the snapshot propagates (the worker fails and Textual shows it).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from textual.app import App

from console.tui.widgets.active import ActivePane
from console.tui.widgets.event_log import EventLog
from console.tui.widgets.queue import QueueTable
from console.tui.widgets.services import ServicesTable
from console.tui.widgets.status_header import StatusHeader
from core.errors import StoreBroken, StoreError
from core.models import Event, Snapshot
from core.orchestrator import Orchestrator

MAX_FPS = 10
"""No more frames than this in any one second, whatever asks for them."""
FRAME_INTERVAL = 0.2
"""Events redraw at most five times a second, leaving room for the frames keys ask for
(each drawn at once): together they stay within ten a second."""
IDLE_REFRESH = 1.0
"""Redraw at least this often, so waited times and the clock move."""


class FramedApp(App[None]):
    """The frame scheduler and the drawing of one frame; the console app builds on it."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        read_only: bool = False,
        clock: Callable[[], float] = time.monotonic,
        live: bool = True,
    ) -> None:
        """`live=False`: draw only when `redraw()` is called (deterministic pictures)."""
        super().__init__()
        self.orch = orchestrator
        self._live = live
        self.read_only = read_only
        self._clock = clock
        self.snapshot: Snapshot | None = None
        self._dirty = True
        self._last_frame = 0.0
        self._refresh_handle: asyncio.TimerHandle | None = None
        self._refreshing = False
        self._frame_times: deque[float] = deque(maxlen=MAX_FPS)
        self._no_frames = False
        """Not `_closing`: that is Textual's own, and setting it makes the app refuse every
        message, keys included (a console deaf to q once the fault notice was up)."""
        self._pending_events: list[Event] = []
        self.fault: StoreBroken | None = None
        """The store broke under the console: it shows why and offers only quit."""
        self.frames = 0
        """Redraws so far (the console benchmark reads it)."""

    def log_events(self, events: list[Event]) -> None:
        """Log these events in the next frame, and ask for it."""
        self._pending_events.extend(events)
        self.request_redraw()

    def _write_log_lines(self, events: list[Event]) -> None:
        if self._no_frames:
            return
        log = self.query_one(EventLog)
        log.add(events)
        if log.auto_scroll:  # a pane above may have grown: keep the newest line in view
            log.scroll_end(animate=False)

    def stop_frames(self) -> None:
        """No frame after this: the widgets and the store are going."""
        self._no_frames = True
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
            self._refresh_handle = None

    def _after_first_frame(self) -> None:
        """Runs once, after the first frame is on screen (the app defines what)."""

    def store_broke(self, fault: StoreBroken) -> None:
        """The store broke under this process (the app says so and stops)."""
        self.stop_frames()

    def after_frame(self, snap: Snapshot, before: Snapshot | None) -> None:
        """Runs after each frame, with the previous frame's snapshot (the app defines what)."""

    def request_redraw(self) -> None:
        """Redraw once the frame interval since the last frame has passed (events)."""
        self._dirty = True
        if (
            not self._live
            or self._no_frames
            or self._refresh_handle is not None
            or self._refreshing
        ):
            return
        due = max(self._last_frame + FRAME_INTERVAL, self._window_opens())
        loop = asyncio.get_running_loop()
        self._refresh_handle = loop.call_later(max(0.0, due - self._clock()), self._start_redraw)

    def redraw_now(self) -> None:
        """Redraw as soon as the rate allows (an operator's key): at once, unless ten frames
        were drawn in the last second. Events then wait a whole interval after it."""
        self._dirty = True
        if not self._live or self._no_frames or self._refreshing:
            return
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
            self._refresh_handle = None
        wait = self._window_opens() - self._clock()
        if wait <= 0:
            self._start_redraw()
        else:
            loop = asyncio.get_running_loop()
            self._refresh_handle = loop.call_later(wait, self._start_redraw)

    def _window_opens(self) -> float:
        """When the next frame keeps the count within MAX_FPS in any one second."""
        if len(self._frame_times) < MAX_FPS:
            return 0.0
        return self._frame_times[0] + 1.0

    def _start_redraw(self) -> None:
        self._refresh_handle = None
        self._refreshing = True  # reserved from now: no second frame is scheduled meanwhile
        self.run_worker(self._draw(), group="redraw")

    async def redraw(self) -> None:
        """Draw one frame now, unless one is under way."""
        if self._refreshing or self._no_frames:
            return
        self._refreshing = True
        await self._draw()

    async def _draw(self) -> None:
        try:
            if self._no_frames:
                return
            self._dirty = False
            self._last_frame = self._clock()
            self._frame_times.append(self._last_frame)
            try:
                snap = await self.orch.snapshot()
            except StoreBroken as exc:  # the orchestrator stops on it: say so, draw no more
                self.store_broke(exc)
                return
            except StoreError:
                if self._no_frames:  # the store closed under a frame in flight at exit
                    return
                raise
            if self._no_frames:
                return
            before, self.snapshot = self.snapshot, snap
            events, self._pending_events = self._pending_events, []
            self.query_one(StatusHeader).show(snap, self.read_only)
            self.query_one(ServicesTable).show(snap.services)
            queue = self.query_one(QueueTable)
            queue.note(events)
            queue.show(snap.queue)
            self.query_one(ActivePane).show(snap)
            if events and self._live:
                self.call_after_refresh(self._write_log_lines, events)
            else:
                self._write_log_lines(events)
            self.query_one("#queue").border_subtitle = f"{len(snap.queue)} queued"
            self.after_frame(snap, before)
            self.frames += 1
            if self.frames == 1:
                self.call_after_refresh(self._after_first_frame)
        finally:
            self._refreshing = False
        if self._dirty:
            self.request_redraw()
