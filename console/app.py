"""The operations console: a view and a controller over the core's public API.

It holds no orchestration logic (principle 10): keys call the orchestrator, and
the screen is redrawn from `snapshot()` at most ten times a second, however
many events arrive. Tables are updated by row key, so the operator's cursor
and scroll survive every update.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from textual.app import App, ComposeResult, SystemCommand
from textual.screen import Screen

from console.keys import ACTIONS, MAIN_VIEW_ACTIONS, MUTATING_ACTIONS, bindings
from console.startup import resume_gc
from console.widgets.active import ActivePane
from console.widgets.event_log import EventLog
from console.widgets.key_bar import KeyBar
from console.widgets.queue import QueueTable
from console.widgets.services import ServicesTable
from console.widgets.status_header import StatusHeader
from core.errors import StoreError
from core.models import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    CircuitState,
    Event,
    EventKind,
    RunOutcome,
    Snapshot,
    SyncMode,
)
from core.orchestrator import Orchestrator

MAX_FPS = 10
"""No more frames than this in any one second, whatever asks for them."""
FRAME_INTERVAL = 0.2
"""Events redraw at most five times a second, leaving room for the frames keys ask for
(each drawn at once): together they stay within ten a second."""
IDLE_REFRESH = 1.0
"""Redraw at least this often, so waited times and the clock move."""


class SyncdeckApp(App[None]):
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
        otherwise the caller owns its lifecycle, as `console.launch` does.
        `live=False`: draw only when `redraw()` is called (deterministic pictures)."""
        super().__init__()
        self.orch = orchestrator
        self._manage = manage_orchestrator
        self._live = live
        self.read_only = read_only
        self._clock = clock
        self.snapshot: Snapshot | None = None
        self._dirty = True
        self._last_frame = 0.0
        self._refresh_handle: asyncio.TimerHandle | None = None
        self._refreshing = False
        self._frame_times: deque[float] = deque(maxlen=MAX_FPS)
        self._closing = False
        self._pending_events: list[Event] = []
        self._runner_holder: str | None = None
        self.frames = 0
        """Redraws so far (the console benchmark reads it)."""

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

    async def on_mount(self) -> None:
        self._subscription = self.orch.events()  # before start: see the lease being taken
        if self._manage:
            await self.orch.start()
        self.query_one(ServicesTable).focus()
        self.run_worker(self._consume_events(), exclusive=True, group="events")
        if self._live:
            self.set_interval(IDLE_REFRESH, self.request_redraw)
            await self.redraw()

    async def _consume_events(self) -> None:
        async for event in self._subscription:
            batch = [event, *self._subscription.pending()]
            self._pending_events.extend(batch)
            self._react(batch)
            self.request_redraw()

    async def on_unmount(self) -> None:
        self._closing = True  # no frame after this: the widgets and the store are going
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
            self._refresh_handle = None
        self._subscription.close()
        if self._manage:
            await self.orch.stop()

    # -- redraw at a bounded rate --------------------------------------------

    def request_redraw(self) -> None:
        """Redraw once the frame interval since the last frame has passed (events)."""
        self._dirty = True
        if not self._live or self._closing or self._refresh_handle is not None or self._refreshing:
            return
        due = max(self._last_frame + FRAME_INTERVAL, self._window_opens())
        loop = asyncio.get_running_loop()
        self._refresh_handle = loop.call_later(max(0.0, due - self._clock()), self._start_redraw)

    def redraw_now(self) -> None:
        """Redraw as soon as the rate allows (an operator's key): at once, unless ten frames
        were drawn in the last second. Events then wait a whole interval after it."""
        self._dirty = True
        if not self._live or self._closing or self._refreshing:
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
        if self._refreshing or self._closing:
            return
        self._refreshing = True
        await self._draw()

    async def _draw(self) -> None:
        try:
            if self._closing:
                return
            self._dirty = False
            self._last_frame = self._clock()
            self._frame_times.append(self._last_frame)
            try:
                snap = await self.orch.snapshot()
            except StoreError:
                if self._closing:  # the store closed under a frame in flight at exit
                    return
                raise
            if self._closing:
                return
            self.snapshot = snap
            events, self._pending_events = self._pending_events, []
            self.query_one(StatusHeader).show(snap, self.read_only)
            self.query_one(ServicesTable).show(snap.services)
            self.query_one(QueueTable).show(snap.queue)
            self.query_one(ActivePane).show(snap)
            log = self.query_one(EventLog)
            log.add(events)
            if log.auto_scroll:  # a pane above may have grown: keep the newest line in view
                log.scroll_end(animate=False)
            self.query_one("#queue").border_subtitle = f"{len(snap.queue)} queued"
            self.frames += 1
            if self.frames == 1:
                self.call_after_refresh(self._after_first_frame)
        finally:
            self._refreshing = False
        if self._dirty:
            self.request_redraw()

    def _after_first_frame(self) -> None:
        """What the first frame need not wait for (see `console.startup`): the garbage
        collector, and the schedule (`Orchestrator.start_schedule`; a no-op if started)."""
        resume_gc()
        self.run_worker(self._call("Schedule", self.orch.start_schedule()), group="start")

    # -- toasts ----------------------------------------------------------------

    def _react(self, events: Iterable[Event]) -> None:
        for event in events:
            if event.kind == EventKind.RUN_FINISHED and event.data.get("outcome") in (
                RunOutcome.FAILED.value,
                RunOutcome.TIMED_OUT.value,
            ):
                self.notify(
                    f"{event.service} sync {event.data['outcome'].replace('_', ' ')}: "
                    f"{event.data.get('error') or 'no detail'}",
                    title="Run failed",
                    severity="error",
                )
            elif (
                event.kind == EventKind.CIRCUIT_CHANGED
                and event.data.get("circuit") == CircuitState.OPEN.value
            ):
                self.notify(
                    f"{event.service}: {event.data.get('failures', '?')} failures in a row; "
                    "no runs until the cooldown ends",
                    title="Circuit opened",
                    severity="error",
                )
            elif event.kind == EventKind.LEASE_TAKEN:
                holder = str(event.data.get("holder"))
                previous = event.data.get("previous")
                if previous and holder != previous:
                    who = "this console" if holder == self.orch.holder_id else holder
                    self.notify(
                        f"{who} took over running syncs from {previous}",
                        title="Runner takeover",
                        severity="warning",
                    )

    # -- actions ---------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.read_only and action in MUTATING_ACTIONS:
            return False
        # Over another screen (history), keys that act on the main view's selection are off.
        return not (action in MAIN_VIEW_ACTIONS and len(self.screen_stack) > 1)

    def _selected_service(self) -> str | None:
        return self.query_one(ServicesTable).selected

    def _queue_focused(self) -> bool:
        return self.focused is self.query_one(QueueTable)

    async def _call(self, what: str, coro: Awaitable[object]) -> bool:
        """Run one core call; a refusal becomes a toast, never a crash."""
        try:
            await coro
        except (StoreError, LookupError, ValueError) as exc:
            self.notify(str(exc.args[0] if exc.args else exc), title=what, severity="warning")
            return False
        self.redraw_now()
        return True

    async def action_sync(self, mode: str) -> None:
        service = self._selected_service()
        if service is None:
            return
        await self.sync(service, SyncMode(mode))

    async def sync(self, service: str, mode: SyncMode) -> None:
        await self._call("Sync", self.orch.request(service, mode, source="manual"))

    async def action_cancel(self) -> None:
        queue = self.query_one(QueueTable)
        if self._queue_focused() and queue.selected is not None:
            await self._call("Cancel", self.orch.cancel(queue.selected))
            return
        await self.cancel_running()

    async def cancel_running(self) -> None:
        snap = self.snapshot
        if snap is None or snap.active is None:
            self.notify("No sync is running.", title="Cancel")
            return
        request = snap.active.request

        async def answered(yes: bool | None) -> None:
            if yes:
                await self._call("Cancel", self.orch.cancel(request.id))

        from console.screens.confirm import ConfirmScreen  # screens load when first opened

        self.push_screen(
            ConfirmScreen(
                f"Cancel the running {request.service} sync (request #{request.id})?\n\n"
                "It stops after its current batch; rows already written stay."
            ),
            answered,
        )

    async def action_priority(self, delta: int) -> None:
        queue = self.query_one(QueueTable)
        request_id = queue.selected
        snap = self.snapshot
        if request_id is None or snap is None:
            self.notify("Select a queue entry first (tab to the queue).", title="Priority")
            return
        entry = next((e for e in snap.queue if e.request.id == request_id), None)
        if entry is None:
            return
        new = min(MAX_PRIORITY, max(MIN_PRIORITY, entry.request.priority + delta))
        await self._call("Priority", self.orch.set_priority(request_id, new))

    async def action_toggle_dispatch(self) -> None:
        paused = (await self.orch.controls()).dispatch_paused  # not the last frame's
        await self._call("Dispatch", self.orch.resume() if paused else self.orch.pause())

    async def action_toggle_schedule(self) -> None:
        paused = (await self.orch.controls()).schedule_paused
        await self._call(
            "Schedule", self.orch.resume_schedule() if paused else self.orch.pause_schedule()
        )

    async def action_history(self) -> None:
        service = self._selected_service()
        if service is not None:
            await self.show_history(service)

    async def show_history(self, service: str) -> None:
        from console.screens.history import HistoryScreen

        runs = await self.orch.history(service, limit=200)
        self.push_screen(HistoryScreen(service, runs))

    def action_filter_log(self) -> None:
        from console.screens.filter import FilterScreen

        log = self.query_one(EventLog)

        def apply(text: str | None) -> None:
            if text is not None:
                log.set_filter(text)

        self.push_screen(FilterScreen(log.filter_text), apply)

    def action_help(self) -> None:
        from console.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.read_only))

    async def action_quit_console(self) -> None:
        snap = self.snapshot
        if self.orch.is_runner and snap is not None and snap.active is not None:
            service = snap.active.request.service

            def answered(yes: bool | None) -> None:
                if yes:
                    self.exit()

            from console.screens.confirm import ConfirmScreen

            self.push_screen(
                ConfirmScreen(
                    f"This console is running a {service} sync. Quitting interrupts it: it is "
                    "recorded as interrupted and queued again, and another syncdeck process "
                    "(or this console, next time) runs it.\n\nQuit?"
                ),
                answered,
            )
            return
        self.exit()

    # -- command palette ---------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Palette commands from the same actions as the keys, plus one per service."""
        services = self.orch.service_names
        if not self.read_only:
            for service in services:
                for mode in SyncMode:
                    yield SystemCommand(
                        f"Sync {service} ({mode.value})",
                        f"Request a {mode.value} sync of {service}",
                        lambda s=service, m=mode: self.run_worker(self.sync(s, m)),
                    )
            paused = self.snapshot is not None and self.snapshot.controls.dispatch_paused
            sched = self.snapshot is not None and self.snapshot.controls.schedule_paused
            yield SystemCommand(
                "Resume dispatching" if paused else "Pause dispatching",
                _help("toggle_dispatch"),
                lambda: self.run_worker(self.action_toggle_dispatch()),
            )
            yield SystemCommand(
                "Resume schedule" if sched else "Pause schedule",
                _help("toggle_schedule"),
                lambda: self.run_worker(self.action_toggle_schedule()),
            )
            yield SystemCommand(
                "Cancel running sync",
                "Cancel the sync that is running now (asks first)",
                lambda: self.run_worker(self.cancel_running()),
            )
        for service in services:
            yield SystemCommand(
                f"History of {service}",
                f"Runs of {service}: outcome, counts, duration, error",
                lambda s=service: self.run_worker(self.show_history(s)),
            )
        yield SystemCommand("Filter event log", _help("filter_log"), self.action_filter_log)
        yield SystemCommand("Help", _help("help"), self.action_help)
        yield SystemCommand(
            "Quit", _help("quit_console"), lambda: self.run_worker(self.action_quit_console())
        )

    # -- for scenes and tests -------------------------------------------------

    @property
    def pending_events(self) -> list[Event]:
        """Events received since the last frame (the next frame logs them)."""
        return list(self._pending_events)


def _help(action: str) -> str:
    return next(a.help for a in ACTIONS if a.action == action)
