"""When the main view is drawn: at a bounded rate, whoever asks for a frame.

However many events arrive, the screen is redrawn at most ten times a second
(principle 10): events ask for a frame at most five times a second
(`request_redraw`), an operator's key gets one at once (`redraw_now`) unless ten
were drawn in the last second. A `FrameLimiter` only decides when: the screen
that holds it (`console.tui.screens.main`) draws, one frame at a time, in a
worker. After `stop()`, or once the app has stopped running (it is exiting), no
frame starts, and a frame in flight can see `stopped` and end quietly. Nothing
here raises; what a frame raises fails its worker.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from textual.dom import DOMNode

MAX_FPS = 10
"""No more frames than this in any one second, whatever asks for them."""
FRAME_INTERVAL = 0.2
"""Events redraw at most five times a second, leaving room for the frames keys ask for
(each drawn at once): together they stay within ten a second."""
IDLE_REFRESH = 1.0
"""Redraw at least this often, so waited times and the clock move."""


class FrameLimiter:
    """Decides when `host` draws its next frame (`draw`, run in a worker of `host`)."""

    def __init__(
        self,
        host: DOMNode,
        draw: Callable[[], Awaitable[None]],
        *,
        clock: Callable[[], float] = time.monotonic,
        live: bool = True,
    ) -> None:
        """`live=False`: draw only when `redraw()` is called (deterministic pictures)."""
        self._host = host
        self._draw = draw
        self.live = live
        self._clock = clock
        self._dirty = True
        self._last_frame = 0.0
        self._refresh_handle: asyncio.TimerHandle | None = None
        self._refreshing = False
        self._frame_times: deque[float] = deque(maxlen=MAX_FPS)
        self._stopped = False

    @property
    def stopped(self) -> bool:
        """No frame from now on: `stop()` was called (the store broke, or the host is going),
        or the app is no longer running (its screens and the store are going)."""
        return self._stopped or not self._host.app.is_running

    def stop(self) -> None:
        """No frame after this."""
        self._stopped = True
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
            self._refresh_handle = None

    def request_redraw(self) -> None:
        """Redraw once the frame interval since the last frame has passed (events)."""
        self._dirty = True
        if not self.live or self.stopped or self._refresh_handle is not None or self._refreshing:
            return
        due = max(self._last_frame + FRAME_INTERVAL, self._window_opens())
        loop = asyncio.get_running_loop()
        self._refresh_handle = loop.call_later(max(0.0, due - self._clock()), self._start_redraw)

    def redraw_now(self) -> None:
        """Redraw as soon as the rate allows (an operator's key): at once, unless ten frames
        were drawn in the last second. Events then wait a whole interval after it."""
        self._dirty = True
        if not self.live or self.stopped or self._refreshing:
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
        self._host.run_worker(self._frame(), group="redraw")

    async def redraw(self) -> None:
        """Draw one frame now, unless one is under way."""
        if self._refreshing or self.stopped:
            return
        self._refreshing = True
        await self._frame()

    async def _frame(self) -> None:
        try:
            if self.stopped:
                return
            self._dirty = False
            self._last_frame = self._clock()
            self._frame_times.append(self._last_frame)
            await self._draw()
        finally:
            self._refreshing = False
        if self._dirty:
            self.request_redraw()
