"""What the console's keys do: each action is one call of the orchestrator's public API.

The keys themselves are in `console.tui.keys`; this is the other half of each entry
there. An action acts on the main view's selection (a service, a queue entry)
or asks first (cancel a running sync, quit while this console runs one). The
core's refusals (`StoreError`, an unknown service, a bad value) become a toast,
never a crash; after every accepted call the screen is redrawn at once. A sync
key whose mode the core will not honour (`i` on a service with no cursor runs a
full pass) says so in a toast, by the core's own rule.
Read-only consoles refuse every mutating action (`check_action`). A
confirmation about a running sync closes itself when that sync ends first
(`after_frame`). `/`, `o`, `O` act on whatever screen is up (the event log or
the history), Esc clears the main view's filter.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol, runtime_checkable

from console.tui.frames import FramedApp
from console.tui.keys import MAIN_VIEW_ACTIONS, MUTATING_ACTIONS
from console.tui.widgets.event_log import EventLog
from console.tui.widgets.queue import QueueTable
from console.tui.widgets.services import ServicesTable
from core.errors import StoreError
from core.models import MAX_PRIORITY, MIN_PRIORITY, Snapshot, SyncMode

LOG_FILTER = "log-filter"
"""The id of the event log's filter box (`console.tui.widgets.filter_bar`, mounted on `/`)."""


@runtime_checkable
class Sortable(Protocol):
    """A table (or a screen of one) that `o` and `O` sort."""

    def cycle_sort(self) -> None: ...
    def flip_sort(self) -> None: ...


class ConsoleActions(FramedApp):
    """The action handlers of the console app (its shell is `console.tui.app.SyncdeckApp`)."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.fault is not None:
            return False  # the store broke: the notice's own q is the only key
        if self.read_only and action in MUTATING_ACTIONS:
            return False
        # Over another screen (history), keys that act on the main view's selection are off.
        return not (action in MAIN_VIEW_ACTIONS and len(self.screen_stack) > 1)

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

    def after_frame(self, snap: Snapshot, before: Snapshot | None) -> None:
        """Close a confirmation about a run that ended meanwhile; redraw state labels."""
        if len(self.screen_stack) > 1:  # only then can a confirmation be up (or loaded)
            self._close_stale_confirmation(snap)
        if before is None or before.controls != snap.controls:
            from console.tui.widgets.key_bar import KeyBar

            self.query_one(KeyBar).refresh()

    def _close_stale_confirmation(self, snap: Snapshot) -> None:
        from console.tui.screens.confirm import ConfirmScreen

        screen = self.screen
        if isinstance(screen, ConfirmScreen) and screen.request_id is not None:
            active = snap.active
            if active is None or active.request.id != screen.request_id:
                screen.dismiss(None)
                self.notify(
                    f"Request #{screen.request_id} ended meanwhile: nothing to confirm.",
                    title="Dialog closed",
                )

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
        """Queue the sync; when the rule the runner applies (`Orchestrator.resolve_mode`)
        will not honour the incremental mode asked for (no cursor yet), say so at once
        (auto and full are always taken as asked). The rule is asked first, so that a
        run that starts at once (and lays a cursor) does not make it answer for the next
        run instead of this one."""
        planned = await self._planned_mode(service, mode) if mode == SyncMode.INCREMENTAL else None
        done = await self._call("Sync", self.orch.request(service, mode, source="manual"))
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

        from console.tui.screens.confirm import ConfirmScreen  # screens load when first opened

        self.push_screen(
            ConfirmScreen(
                f"Cancel the running {request.service} sync (request #{request.id})?\n\n"
                "It stops after its current batch; rows already written stay.",
                request_id=request.id,
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
        from console.tui.screens.history import HistoryScreen

        runs = await self.orch.history(service, limit=200)
        self.push_screen(HistoryScreen(service, runs))

    async def show_service(self, service: str) -> None:
        from console.tui.screens.detail import service_screen

        snap = self.snapshot
        view = None if snap is None else next((s for s in snap.services if s.name == service), None)
        if snap is not None and view is not None:
            self.push_screen(service_screen(view, snap.at))

    async def action_filter(self) -> None:
        start = getattr(self.screen, "start_filter", None)
        if start is not None:
            start()
            return
        from console.tui.widgets.filter_bar import FilterBar  # mounted when first asked for

        found = self.screen.query(f"#{LOG_FILTER}")
        bar = found.first(FilterBar) if found else FilterBar(id=LOG_FILTER)
        if not found:
            await self.screen.mount(bar)
        bar.value = self.query_one(EventLog).filter_text
        bar.open()

    def _sortable(self) -> Sortable:
        """What `o` sorts: the screen if it sorts itself (history), else the services."""
        screen = self.screen
        if isinstance(screen, Sortable):
            return screen
        return self.query_one(ServicesTable)

    def action_sort(self) -> None:
        self._sortable().cycle_sort()

    def action_sort_reverse(self) -> None:
        self._sortable().flip_sort()

    def action_clear_filter(self) -> None:
        """Esc on the main view: clear the event log's filter."""
        log = self.query_one(EventLog)
        if log.filter_text:
            log.set_filter("")

    def action_help(self) -> None:
        from console.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.read_only))

    async def action_quit_console(self) -> None:
        snap = self.snapshot
        if self.orch.is_runner and snap is not None and snap.active is not None:
            service = snap.active.request.service

            def answered(yes: bool | None) -> None:
                if yes:
                    self.exit()

            from console.tui.screens.confirm import ConfirmScreen

            self.push_screen(
                ConfirmScreen(
                    f"This console is running a {service} sync. Quitting interrupts it: it is "
                    "recorded as interrupted and queued again, and another syncdeck process "
                    "(or this console, next time) runs it.\n\nQuit?",
                    request_id=snap.active.request.id,
                ),
                answered,
            )
            return
        self.exit()
