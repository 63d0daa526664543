"""The main view: the panes, drawn from `snapshot()`, and the keys that act on them.

The panes are redrawn at a bounded rate through the `FrameLimiter` this screen
holds (`console.tui.frames`), by row key, so the operator's cursor and scroll
survive every update; the event log starts with the store's newest events (up
to BACKLOG). The keys of `console.tui.keys` not marked `anywhere` are its
bindings, so they work only while it is on top; what each does with the focused
pane's selection is `console.tui.screens.main_keys` (`MainKeys`, which this
screen is). Enter opens the selected service's or queue entry's detail. A frame
that finds the store broken ends the frames and tells the app (`StoreBroke`);
one in flight at exit ends quietly. Below 80x24 the view is compact (`layout`,
`console.tui.layout`): set when it is mounted, resized or shown again, never per frame.

Failures: none escape a frame but `StoreError` while the view is still live
(a closed store at exit ends the frame quietly).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import events
from textual.app import ComposeResult
from textual.geometry import Size
from textual.message import Message
from textual.widgets import DataTable

from console.tui.frames import IDLE_REFRESH, FrameLimiter
from console.tui.keys import bindings
from console.tui.layout import COMPACT_CLASS, FULL, Pane, layout_for, short_heights
from console.tui.screens.main_keys import MainKeys
from console.tui.widgets.active import ActivePane
from console.tui.widgets.event_log import EventLog
from console.tui.widgets.key_bar import KeyBar
from console.tui.widgets.queue import QueueTable
from console.tui.widgets.services import ServicesTable
from console.tui.widgets.status_header import StatusHeader
from core.errors import StoreBroken, StoreError
from core.models import Event
from core.orchestrator import Orchestrator

if TYPE_CHECKING:
    from textual.widgets import Input

    from console.tui.widgets.filter_bar import FilterBar

BACKLOG = 200
"""How many of the store's newest events the log starts with."""
LOG_FILTER = "log-filter"
"""The id of the event log's filter box (`console.tui.widgets.filter_bar`, mounted on `/`)."""


class MainScreen(MainKeys):
    BINDINGS = bindings(anywhere=False)

    class FirstFrame(Message):
        """The first frame is on screen: what it need not wait for can start."""

    class StoreBroke(Message):
        """A frame found the store broken under this process: no frame is drawn any more."""

        def __init__(self, fault: StoreBroken) -> None:
            super().__init__()
            self.fault = fault

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        read_only: bool = False,
        clock: Callable[[], float] = time.monotonic,
        live: bool = True,
    ) -> None:
        """`live=False`: draw only when `limiter.redraw()` is called (deterministic pictures)."""
        super().__init__(orchestrator, read_only=read_only)
        self.limiter = FrameLimiter(self, self._draw, clock=clock, live=live)
        self.frames = 0
        """Redraws so far (the console benchmark reads it)."""
        self.backlog_loaded = False
        self._pending_events: list[Event] = []
        self._started = asyncio.Event()
        self._size = Size(*FULL)
        self._heights: tuple[int, int] | None = None
        """The services' and the queue's height limits in a short view (None: the stylesheet's)."""
        self._counted = 0
        """The services the height limits were set for."""
        self._resumed = False

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        yield ServicesTable(id="services")
        yield ActivePane(id="active")
        yield QueueTable(id="queue")
        yield EventLog(id="log")
        yield KeyBar()

    async def on_mount(self) -> None:
        """Select the services and draw the first frame, before the layout that showing
        this screen asks for, so that the first paint shows it whole; live, then at least
        every IDLE_REFRESH. The app has started the orchestrator by now (`on_load`)."""
        try:
            self.fit_layout(self.app.size)
            self.query_one(ServicesTable).focus()
            if self.limiter.live:
                self.set_interval(IDLE_REFRESH, self.limiter.request_redraw)
                await self.limiter.redraw()
        finally:
            self._started.set()  # the app waits for it, whatever happened

    async def started(self) -> None:
        """Return once this view is mounted and, live, has drawn its first frame."""
        await self._started.wait()

    def on_unmount(self) -> None:
        self.limiter.stop()

    # -- the layout by terminal size -------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self.fit_layout(event.size)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        """Back on top: the terminal may have been resized under the screen that was.

        Shown the first time, its styles are those its mount gave it, so Textual's handler
        (after this one) need not apply them to every pane again before the first paint."""
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False
        self.fit_layout(self.app.size)

    @property
    def compact(self) -> bool:
        return self.has_class(COMPACT_CLASS)

    def fit_layout(self, size: Size) -> None:
        """Full or compact, as `size` asks (`console.tui.layout`); below the minimum, the app
        covers this view with its notice and the compact layout stays under it."""
        compact = layout_for(size.width, size.height) != "full"
        if compact != self.compact:
            self.set_class(compact, COMPACT_CLASS)
            for pane in self.query("#services, #active, #queue, #log"):
                if isinstance(pane, Pane):
                    pane.set_compact(compact)
        self._size = size
        self._fit_heights()

    def _fit_heights(self) -> None:
        """Shorter than FULL, the panes' height limits that keep every pane on screen
        (`console.tui.layout.short_heights`): set again when the services' count changes."""
        services = self.query_one(ServicesTable)
        self._counted = services.row_count
        heights = short_heights(self._size.height, self._counted)
        if heights != self._heights:
            self._heights = heights
            limits = (None, None) if heights is None else heights  # None: the stylesheet's
            services.styles.max_height, self.query_one(QueueTable).styles.max_height = limits

    # -- drawing -------------------------------------------------------------------

    def log_events(self, events: list[Event]) -> None:
        """Log these events in the next frame, and ask for it."""
        self._pending_events.extend(events)
        self.limiter.request_redraw()

    async def _draw(self) -> None:
        """One frame: one snapshot, every pane updated by row key."""
        try:
            snap = await self.orch.snapshot()
        except StoreBroken as exc:  # the orchestrator stops on it: say so, draw no more
            self.limiter.stop()
            self.post_message(self.StoreBroke(exc))
            return
        except StoreError:
            if self.limiter.stopped:  # the store closed under a frame in flight at exit
                return
            raise
        if self.limiter.stopped:
            return
        before, self.snapshot = self.snapshot, snap
        events, self._pending_events = self._pending_events, []
        self.query_one(StatusHeader).show(snap, self.read_only)
        services = self.query_one(ServicesTable)
        services.show(snap.services)
        if services.row_count != self._counted:
            self._fit_heights()
        queue = self.query_one(QueueTable)
        queue.note(events)
        queue.show(snap.queue)
        self.query_one(ActivePane).show(snap)
        # A new line makes the log taller, which lays the whole screen out again: after
        # the frame is painted, so that a key's effect does not wait for it.
        if events and self.limiter.live:
            self.call_after_refresh(self._write_log_lines, events)
        else:
            self._write_log_lines(events)
        queue.set_note(f"{len(snap.queue)} queued")
        self._close_stale_question(snap)
        if before is None or self.footer_changed(before, snap):
            self.query_one(KeyBar).refresh()  # the state labels (`key_label`), `r`
        self.frames += 1
        if self.frames == 1:
            self.call_after_refresh(self._after_first_frame)

    def _write_log_lines(self, events: list[Event]) -> None:
        if self.limiter.stopped:
            return
        log = self.query_one(EventLog)
        log.add(events)
        if log.auto_scroll:  # a pane above may have grown: keep the newest line in view
            log.scroll_end(animate=False)

    def _after_first_frame(self) -> None:
        """The first frame is painted: the event backlog, and what the app waited with."""
        if not self.limiter.stopped:  # not if the app is already on its way out
            self.run_worker(self.call_core("Events", self._load_backlog()), group="start")
            self.post_message(self.FirstFrame())

    async def _load_backlog(self) -> None:
        """The store's newest events, so the log starts with history, not empty: read once
        the first frame is painted (before anything an operator does next)."""
        last = await self.orch.last_event_id()
        events = await self.orch.events_since(max(0, last - BACKLOG), BACKLOG)
        if self.limiter.stopped:
            return
        self.query_one(QueueTable).note(events)
        self.query_one(EventLog).add_backlog(events)
        self.backlog_loaded = True
        self.limiter.redraw_now()

    async def show_service(self, service: str) -> None:
        from console.tui.screens.detail import service_screen  # loads when first opened

        snap = self.snapshot
        view = None if snap is None else next((s for s in snap.services if s.name == service), None)
        if snap is not None and view is not None:
            self.app.push_screen(service_screen(view, snap.at))

    async def show_request(self, request_id: int) -> None:
        from console.tui.screens.request import request_screen  # loads when first opened

        snap = self.snapshot
        entry = self.query_one(QueueTable).entries.get(request_id)
        if snap is None or entry is None:
            return
        try:
            screen = await request_screen(self.orch, entry, snap)
        except StoreError as exc:  # the log unreadable now: say so, open nothing
            self.notify(str(exc), title=f"Request #{request_id}", severity="warning")
            return
        self.app.push_screen(screen)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if isinstance(event.data_table, ServicesTable):
            self.run_worker(self.show_service(str(event.row_key.value)))
        elif isinstance(event.data_table, QueueTable):
            self.run_worker(self.show_request(int(str(event.row_key.value))))

    # -- the event log's filter (/, Esc) and the services' sort (o, O) -------------------

    async def start_filter(self) -> None:
        """`/`: filter the event log, when it has focus."""
        if not self._refused("filter"):
            await self.open_log_filter()

    async def open_log_filter(self) -> None:
        """Open the event log's filter box (the palette's command: from anywhere)."""
        from console.tui.widgets.filter_bar import FilterBar  # mounted when first asked for

        found = self.query(f"#{LOG_FILTER}")
        bar = found.first(FilterBar) if found else FilterBar(id=LOG_FILTER)
        if not found:
            await self.mount(bar)
        bar.value = self.query_one(EventLog).filter_text
        bar.open()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == LOG_FILTER:
            self.query_one(EventLog).set_filter(event.value)

    def on_filter_bar_closed(self, event: FilterBar.Closed) -> None:
        if event.cleared:
            self.query_one(EventLog).set_filter("")
        self.query_one(EventLog).focus()

    def action_clear_filter(self) -> None:
        """Esc: clear the event log's filter."""
        log = self.query_one(EventLog)
        if log.filter_text:
            log.set_filter("")
