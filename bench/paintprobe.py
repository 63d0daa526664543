"""A headless console's paints as text: `PaintProbe` puts back the terminal string Textual
builds for every paint, counts paints, and wakes whoever waits for a marker to show."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from terminal import plain
from textual._compositor import CompositorUpdate

from console.tui.app import SyncdeckApp


@dataclass
class _Waiter:
    marker: str
    event: asyncio.Event = field(default_factory=asyncio.Event)
    at: float = 0.0


class PaintProbe:
    """Puts back, in a headless app, the terminal string Textual builds for every paint,
    counts paints, and tells waiters when a paint shows their marker."""

    def __init__(self, app: SyncdeckApp) -> None:
        self.app = app
        self.paints = 0
        self.first_paint_at: float | None = None
        self._waiters: list[_Waiter] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None or app._batch_count:
                return
            console = app.console
            if isinstance(renderable, CompositorUpdate):
                sequence = renderable.render_segments(console)
            else:
                sequence = console._render_buffer(console.render(renderable))
            self.paints += 1
            now = time.perf_counter()
            if self.first_paint_at is None:
                self.first_paint_at = now
            if self._waiters:
                text = plain(sequence)
                for waiter in [w for w in self._waiters if w.marker in text]:
                    waiter.at = now
                    waiter.event.set()
                    self._waiters.remove(waiter)

        app._display = display  # type: ignore[method-assign]

    def expect(self, marker: str) -> _Waiter:
        waiter = _Waiter(marker)
        self._waiters.append(waiter)
        return waiter
