"""The operations console: a view and a controller over the core's public API.

It holds no orchestration logic (principle 10): keys call the orchestrator
(`console.actions`), and the screen is redrawn from `snapshot()` at a bounded
rate however many events arrive (`console.frames`). Tables are updated by row
key, so the operator's cursor and scroll survive every update. This module is
the shell: the layout, the event subscription, the toasts and the lifecycle.
A failed run, a circuit that opens and a runner takeover become toasts;
nothing the core reports crashes the app.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from textual.app import ComposeResult, SystemCommand
from textual.screen import Screen

from console.actions import ConsoleActions
from console.frames import IDLE_REFRESH
from console.gc_pause import resume_gc
from console.keys import bindings
from console.palette import palette_commands
from console.widgets.active import ActivePane
from console.widgets.event_log import EventLog
from console.widgets.key_bar import KeyBar
from console.widgets.queue import QueueTable
from console.widgets.services import ServicesTable
from console.widgets.status_header import StatusHeader
from core.models import CircuitState, Event, EventKind, RunOutcome
from core.orchestrator import Orchestrator


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
        otherwise the caller owns its lifecycle, as `console.launch` does.
        `live=False`: draw only when `redraw()` is called (deterministic pictures)."""
        super().__init__(orchestrator, read_only=read_only, clock=clock, live=live)
        self._manage = manage_orchestrator

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
        if self._live:
            self.set_interval(IDLE_REFRESH, self.request_redraw)
            await self.redraw()

    async def _consume_events(self) -> None:
        async for event in self._subscription:
            batch = [event, *self._subscription.pending()]
            self._react(batch)
            self.log_events(batch)

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

    # -- command palette ---------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Palette commands from the same actions as the keys, plus one per service."""
        return palette_commands(self)
