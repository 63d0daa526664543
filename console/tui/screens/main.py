"""The main view: the panes, drawn from `snapshot()`, and the keys that act on them.

The panes are redrawn at a bounded rate through the `FrameLimiter` this screen
holds (`console.tui.frames`), by row key, so the operator's cursor and scroll
survive every update; the event log starts with the store's newest events (up
to BACKLOG). The keys of `console.tui.keys` not marked `anywhere` are its
bindings, so they work only while it is on top. Each is one call of the
orchestrator's public API on the selection, or asks first (`ask`); a question
about a run closes itself when that run ends first. The core's refusals become
a toast, never a crash; an accepted call is drawn at once. `i` on a service with
no cursor says that it runs a full pass. Read-only consoles refuse every
mutating action (`check_action`). A frame that finds the store broken ends the
frames and tells the app (`StoreBroke`); one in flight at exit ends quietly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable

from console.tui.frames import IDLE_REFRESH, FrameLimiter
from console.tui.keys import MUTATING_ACTIONS, bindings
from console.tui.widgets.active import ActivePane
from console.tui.widgets.event_log import EventLog
from console.tui.widgets.key_bar import KeyBar
from console.tui.widgets.queue import QueueTable
from console.tui.widgets.services import ServicesTable
from console.tui.widgets.status_header import StatusHeader
from core.errors import StoreBroken, StoreError
from core.models import Event, Snapshot, SyncMode
from core.orchestrator import Orchestrator

if TYPE_CHECKING:
    from textual.widgets import Input

    from console.tui.screens.confirm import ConfirmScreen
    from console.tui.widgets.filter_bar import FilterBar

BACKLOG = 200
"""How many of the store's newest events the log starts with."""
LOG_FILTER = "log-filter"
"""The id of the event log's filter box (`console.tui.widgets.filter_bar`, mounted on `/`)."""


class MainScreen(Screen[None]):
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
        super().__init__()
        self.orch = orchestrator
        self.read_only = read_only
        self.limiter = FrameLimiter(self, self._draw, clock=clock, live=live)
        self.snapshot: Snapshot | None = None
        self.frames = 0
        """Redraws so far (the console benchmark reads it)."""
        self.backlog_loaded = False
        self._pending_events: list[Event] = []
        self._question: ConfirmScreen | None = None
        """The question this view asked that is waiting for its answer."""
        self._started = asyncio.Event()

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

    async def on_mount(self) -> None:
        """Select the services and draw the first frame, before the layout that showing
        this screen asks for, so that the first paint shows it whole; live, then at least
        every IDLE_REFRESH. The app has started the orchestrator by now (`on_load`)."""
        try:
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
        self.query_one(ServicesTable).show(snap.services)
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
        queue.border_subtitle = f"{len(snap.queue)} queued"
        self._close_stale_question(snap)
        if before is None or before.controls != snap.controls:
            self.query_one(KeyBar).refresh()  # the state labels (`key_label`)
        self.frames += 1
        if self.frames == 1:
            self.run_worker(self.call_core("Events", self._load_backlog()), group="start")
            self.call_after_refresh(self._after_first_frame)

    def _write_log_lines(self, events: list[Event]) -> None:
        if self.limiter.stopped:
            return
        log = self.query_one(EventLog)
        log.add(events)
        if log.auto_scroll:  # a pane above may have grown: keep the newest line in view
            log.scroll_end(animate=False)

    def _after_first_frame(self) -> None:
        if not self.limiter.stopped:  # not if the app is already on its way out
            self.post_message(self.FirstFrame())

    async def _load_backlog(self) -> None:
        """The store's newest events, so the log starts with history, not empty: read once
        the first frame is drawn (before anything an operator does next), shown once it is
        on screen."""
        last = await self.orch.last_event_id()
        events = await self.orch.events_since(max(0, last - BACKLOG), BACKLOG)
        await self.wait_for_refresh()
        if self.limiter.stopped:
            return
        self.query_one(QueueTable).note(events)
        self.query_one(EventLog).add_backlog(events)
        self.backlog_loaded = True
        self.limiter.redraw_now()

    def key_label(self, action: str, label: str) -> str:
        """The footer's label for `action`, saying the state it would change."""
        snap = self.snapshot
        if snap is None:
            return label
        if action == "toggle_dispatch":
            return "Resume" if snap.controls.dispatch_paused else "Pause"
        if action == "toggle_schedule":
            return "Sched off" if snap.controls.schedule_paused else "Sched on"
        return label

    # -- calling the core, asking first ---------------------------------------------

    async def call_core(self, what: str, coro: Awaitable[object]) -> bool:
        """Run one core call; a refusal becomes a toast, never a crash. Redraws after it."""
        try:
            await coro
        except (StoreError, LookupError, ValueError) as exc:
            self.notify(str(exc.args[0] if exc.args else exc), title=what, severity="warning")
            return False
        self.limiter.redraw_now()
        return True

    def ask(self, question: str, request_id: int, then: Callable[[], Awaitable[None]]) -> None:
        """Ask yes or no about the running request `request_id`, and `then()` on yes. The
        question closes itself, saying so, when that request ends before the answer."""
        from console.tui.screens.confirm import ConfirmScreen  # screens load when first opened

        async def answered(yes: bool | None) -> None:
            self._question = None
            if yes:
                await then()

        self._question = ConfirmScreen(question, request_id=request_id)
        self.app.push_screen(self._question, answered)

    def _close_stale_question(self, snap: Snapshot) -> None:
        question = self._question
        if question is None or not question.is_active:  # answered, not yet called back
            return
        active = snap.active
        if active is None or active.request.id != question.request_id:
            self._question = None
            question.dismiss(None)
            self.notify(
                f"Request #{question.request_id} ended meanwhile: nothing to confirm.",
                title="Dialog closed",
            )

    # -- keys ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.read_only and action in MUTATING_ACTIONS:
            return False
        # Textual runs this screen's keys only while it is on top; its footer, seen through
        # a dialog's backdrop, offers them only then too.
        return self.is_active

    def _selected_service(self) -> str | None:
        return self.query_one(ServicesTable).selected

    async def action_sync(self, mode: str) -> None:
        service = self._selected_service()
        if service is None:
            return
        await self.sync(service, SyncMode(mode))

    async def sync(self, service: str, mode: SyncMode) -> None:
        """Queue the sync; when the rule the runner applies (`Orchestrator.resolve_mode`)
        will not honour the incremental mode asked for (no cursor yet), say so at once
        (auto and full are always taken as asked). The rule is asked first, so that a
        run that starts at once (and lays a cursor) does not make it answer for the next
        run instead of this one."""
        planned = await self._planned_mode(service, mode) if mode == SyncMode.INCREMENTAL else None
        done = await self.call_core("Sync", self.orch.request(service, mode, source="manual"))
        if done and planned is not None and planned[0] != mode:
            resolved, reason = planned
            self.notify(
                f"{service} runs a {resolved.value} pass ({reason}).",
                title=f"Sync: {resolved.value}, not {mode.value}",
            )

    async def _planned_mode(self, service: str, mode: SyncMode) -> tuple[SyncMode, str] | None:
        try:
            return await self.orch.resolve_mode(service, mode)
        except Exception:  # an unknown service or an unreadable replica: the request's
            return None  # refusal or the run's record says it

    async def action_cancel(self) -> None:
        queue = self.query_one(QueueTable)
        if self.focused is queue and queue.selected is not None:
            await self.call_core("Cancel", self.orch.cancel(queue.selected))
            return
        await self.cancel_running()

    async def cancel_running(self) -> None:
        snap = self.snapshot
        if snap is None or snap.active is None:
            self.notify("No sync is running.", title="Cancel")
            return
        request = snap.active.request

        async def cancel() -> None:
            await self.call_core("Cancel", self.orch.cancel(request.id))

        self.ask(
            f"Cancel the running {request.service} sync (request #{request.id})?\n\n"
            "It stops after its current batch; rows already written stay.",
            request.id,
            cancel,
        )

    async def action_priority(self, delta: int) -> None:
        request_id = self.query_one(QueueTable).selected
        snap = self.snapshot
        if request_id is None or snap is None:
            self.notify("Select a queue entry first (tab to the queue).", title="Priority")
            return
        if all(e.request.id != request_id for e in snap.queue):
            return
        # Relative, applied in the store's transaction: a press computed from this frame's
        # snapshot would undo the presses made since (from here or any other console).
        await self.call_core("Priority", self.orch.set_priority(request_id, delta=delta))

    async def action_toggle_dispatch(self) -> None:
        paused = (await self.orch.controls()).dispatch_paused  # not the last frame's
        await self.call_core("Dispatch", self.orch.resume() if paused else self.orch.pause())

    async def action_toggle_schedule(self) -> None:
        paused = (await self.orch.controls()).schedule_paused
        await self.call_core(
            "Schedule", self.orch.resume_schedule() if paused else self.orch.pause_schedule()
        )

    async def action_history(self) -> None:
        service = self._selected_service()
        if service is not None:
            await self.show_history(service)

    async def show_history(self, service: str) -> None:
        from console.tui.screens.history import HistoryScreen  # loads when first opened

        runs = await self.orch.history(service, limit=200)
        self.app.push_screen(HistoryScreen(service, runs))

    async def show_service(self, service: str) -> None:
        from console.tui.screens.detail import service_screen  # loads when first opened

        snap = self.snapshot
        view = None if snap is None else next((s for s in snap.services if s.name == service), None)
        if snap is not None and view is not None:
            self.app.push_screen(service_screen(view, snap.at))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if isinstance(event.data_table, ServicesTable):
            self.run_worker(self.show_service(str(event.row_key.value)))

    # -- the event log's filter (/, Esc) and the services' sort (o, O) -------------------

    async def start_filter(self) -> None:
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

    def cycle_sort(self) -> None:
        self.query_one(ServicesTable).cycle_sort()

    def flip_sort(self) -> None:
        self.query_one(ServicesTable).flip_sort()
