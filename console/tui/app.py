"""The operations console: a view and a controller over the core's public API.

It holds no orchestration logic (principle 10): keys call the orchestrator
(`console.tui.actions`), and the screen is redrawn from `snapshot()` at a bounded
rate however many events arrive (`console.tui.frames`). Tables are updated by row
key, so the operator's cursor and scroll survive every update. This module is
the shell: the layout, the event subscription, the toasts and the lifecycle.
A request that failed for good, a circuit change and a runner takeover become
toasts, at most two on screen (`console.tui.toasts`); nothing the core reports
crashes the app. A store that breaks under the console (corrupt, deleted or
replaced) ends dispatch and drawing, and a blocking notice offers only quit
(exit code 2: `console.tui.screens.fault`). The event log starts with the store's
newest events (up to BACKLOG), then live ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from textual.app import ComposeResult, SystemCommand
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import DataTable

from console.gc_pause import resume_gc
from console.tui.actions import LOG_FILTER, ConsoleActions
from console.tui.frames import IDLE_REFRESH
from console.tui.keys import bindings
from console.tui.palette import palette_commands
from console.tui.toasts import Toast, ToastPolicy, ToastRack
from console.tui.widgets.active import ActivePane
from console.tui.widgets.event_log import EventLog
from console.tui.widgets.key_bar import KeyBar
from console.tui.widgets.queue import QueueTable
from console.tui.widgets.services import ServicesTable
from console.tui.widgets.status_header import StatusHeader
from core.errors import StoreBroken
from core.models import Event

if TYPE_CHECKING:
    from textual.widgets import Input

    from console.tui.widgets.filter_bar import FilterBar
from core.orchestrator import Orchestrator

BACKLOG = 200
"""How many of the store's newest events the log starts with."""


class SyncdeckApp(ConsoleActions):
    CSS_PATH = "syncdeck.tcss"
    TITLE = "syncdeck"
    BINDINGS = bindings()  # type: ignore[assignment]
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        orchestrator: Orchestrator,
        *,
        read_only: bool = False,
        clock: Callable[[], float] = time.monotonic,
        manage_orchestrator: bool = False,
        live: bool = True,
    ) -> None:
        """`manage_orchestrator`: start it when mounted and stop it on exit (tests, scenes);
        otherwise the caller owns its lifecycle, as `console.tui.launch` does.
        `live=False`: draw only when `redraw()` is called (deterministic pictures)."""
        super().__init__(orchestrator, read_only=read_only, clock=clock, live=live)
        self._manage = manage_orchestrator
        self.toasts = ToastRack(self)
        self._toast_policy = ToastPolicy(lambda: orchestrator.holder_id)
        self.backlog_loaded = False

    # -- layout -------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        services = ServicesTable(id="services")
        services.border_title = "Services"
        yield services
        active = ActivePane(id="active")
        active.border_title = "Active sync"
        yield active
        queue = QueueTable(id="queue")
        queue.border_title = "Queue"
        yield queue
        log = EventLog(id="log")
        log.border_title = "Events"
        yield log
        yield KeyBar()

    # -- lifecycle --------------------------------------------------------------

    async def on_mount(self) -> None:
        self._subscription = self.orch.events()  # before start: see the lease being taken
        if self._manage:
            await self.orch.start()
        self.query_one(ServicesTable).focus()
        self.run_worker(self._consume_events(), exclusive=True, group="events")
        self.run_worker(self._watch_fault(), group="fault")
        if self._live:
            self.set_interval(IDLE_REFRESH, self.request_redraw)
            await self.redraw()

    async def _consume_events(self) -> None:
        async for event in self._subscription:
            batch = [event, *self._subscription.pending()]
            self._react(batch)
            self.log_events(batch)

    async def _watch_fault(self) -> None:
        self.store_broke(await self.orch.wait_for_fault())

    def store_broke(self, fault: StoreBroken) -> None:
        """Stop drawing and show the blocking notice: from now on the only key is q."""
        super().store_broke(fault)
        if self.fault is None:
            from console.tui.screens.fault import FaultScreen

            self.fault = fault
            self.push_screen(FaultScreen(fault))

    async def on_unmount(self) -> None:
        self.stop_frames()
        self._subscription.close()
        if self._manage:
            await self.orch.stop()

    def _after_first_frame(self) -> None:
        """What the first frame need not wait for (see `console.gc_pause`): the garbage
        collector, and the schedule (`Orchestrator.start_schedule`; a no-op if started)."""
        resume_gc()
        self.run_worker(self._call("Schedule", self.orch.start_schedule()), group="start")
        self.run_worker(self._call("Events", self._load_backlog()), group="start")

    # -- toasts ----------------------------------------------------------------

    def _react(self, events: Iterable[Event]) -> None:
        for toast in self._toast_policy.toasts(events):
            self.toasts.show(toast)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast, the core's refusals too, goes through the bounded rack."""
        self.toasts.show(Toast(title, message, severity))

    # -- the event log's backlog, Enter and Esc on the main view ------------------

    async def _load_backlog(self) -> None:
        """The store's newest events, so the log starts with history, not empty."""
        last = await self.orch.last_event_id()
        events = await self.orch.events_since(max(0, last - BACKLOG), BACKLOG)
        self.query_one(QueueTable).note(events)
        self.query_one(EventLog).add_backlog(events)
        self.backlog_loaded = True
        self.redraw_now()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if isinstance(event.data_table, ServicesTable):
            self.run_worker(self.show_service(str(event.row_key.value)))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == LOG_FILTER:
            self.query_one(EventLog).set_filter(event.value)

    def on_filter_bar_closed(self, event: FilterBar.Closed) -> None:
        if event.cleared:
            self.query_one(EventLog).set_filter("")
        self.query_one(EventLog).focus()

    # -- command palette ---------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Palette commands from the same actions as the keys, plus one per service."""
        return palette_commands(self)
