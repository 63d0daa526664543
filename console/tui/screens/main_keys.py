"""The main view's keys: what each does with what the focused pane shows.

`MainKeys` is the controller half of the main view (`console.tui.screens.main`,
whose `MainScreen` is one and adds the panes and the drawing). A key acts on
what the focused pane shows (`place`): a service's row in Services, a queue
entry's request (and its service) in the Queue. So `c` on a service cancels its
queued request, or asks before cancelling its running sync; `h` and `f` in the
Queue act on the entry's service. The footer shows exactly the keys that act
there (`key_shown`, from `console.tui.keys`; `r`, probe now, only on a row whose
circuit is open). A key pressed where it does not
act says where it does, and in a read-only console a key that would change
something says "read-only console" (`_refused`): no key is ignored silently.
Each key is one call of the orchestrator's public API, or asks first (`ask`); a
question about a run closes itself when that run ends first.

Failures: the core's refusals (`StoreError`, `LookupError`, `ValueError`) become
a toast, never a crash (`call_core`); an accepted call is drawn at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from textual.screen import Screen

from console.tui.frames import FrameLimiter
from console.tui.keys import KEYS, READ_ONLY, Condition, Place, elsewhere, label, shown
from console.tui.widgets.queue import QueueTable
from console.tui.widgets.services import ServicesTable
from core.errors import StoreError
from core.models import CircuitState, Snapshot, SyncMode, SyncRequest
from core.orchestrator import Orchestrator
from core.orchestrator.identity import os_user

if TYPE_CHECKING:
    from console.tui.screens.confirm import ConfirmScreen


class MainKeys(Screen[None]):
    """The main view's key actions; `MainScreen` binds them and draws the panes."""

    limiter: FrameLimiter
    """The main view's frames (`MainScreen` makes it): an accepted call redraws at once."""

    def __init__(self, orchestrator: Orchestrator, *, read_only: bool) -> None:
        super().__init__()
        self.orch = orchestrator
        self.read_only = read_only
        self.snapshot: Snapshot | None = None
        """The last frame's snapshot."""
        self._question: ConfirmScreen | None = None
        """The question this view asked that is waiting for its answer."""

    def key_label(self, action: str, text: str) -> str:
        """The footer's label for `action`: a toggle names what pressing it does now."""
        snap = self.snapshot
        if snap is None:
            return text
        paused = {
            "toggle_dispatch": snap.controls.dispatch_paused,
            "toggle_schedule": snap.controls.schedule_paused,
        }
        return label(action, text, paused.get(action, False))

    def key_shown(self, action: str) -> bool:
        """Whether the footer shows `action`'s key: exactly where it acts (and, for `r`,
        while the focused row's circuit is open)."""
        return shown(action, self.place(), read_only=self.read_only, holds=self._holds())

    def _holds(self) -> frozenset[Condition]:
        """What holds for the focused row, as a key's `only_when` names it."""
        snap, service = self.snapshot, self._row_service()
        if snap is None or service is None:
            return frozenset()
        open_now = _open_circuits(snap)
        return frozenset({"circuit_open"}) if service in open_now else frozenset()

    def footer_changed(self, before: Snapshot, now: Snapshot) -> bool:
        """Whether the footer must be drawn again for this frame: a toggle's label or a
        circuit that opened or closed (`r` shows only on an open one) changed."""
        return before.controls != now.controls or _open_circuits(before) != _open_circuits(now)

    def on_data_table_row_highlighted(self) -> None:
        """The selection moved: the footer's keys may change with the row (`r`)."""
        self.refresh_bindings()

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
        # Textual runs this screen's keys only while it is on top; its footer, seen through
        # a dialog's backdrop, offers them only then too. A key that does nothing here
        # still runs, to say why (`_refused`).
        return self.is_active

    def place(self) -> Place:
        """The focused pane, which the keys act on."""
        focused = self.focused
        if isinstance(focused, QueueTable):
            return "queue"
        if focused is None or isinstance(focused, ServicesTable):
            return "services"
        return "events"

    def _refused(self, action: str) -> bool:
        """Whether the key of `action` does nothing here; if so, a toast says why."""
        key = KEYS[action]
        if self.read_only and key.mutating:
            self.notify(READ_ONLY, title=self.key_label(action, key.label), severity="warning")
            return True
        if self.place() not in key.where:
            self.notify(elsewhere(action), title=self.key_label(action, key.label))
            return True
        return False

    def _row_service(self) -> str | None:
        """The service of the focused row: a service's, or a queue entry's."""
        if self.place() == "queue":
            entry = self.query_one(QueueTable).selected_entry
            return None if entry is None else entry.request.service
        return self.query_one(ServicesTable).selected

    async def action_sync(self, mode: str) -> None:
        if self._refused(f"sync('{mode}')"):
            return
        service = self._row_service()
        if service is not None:
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
        """The queue entry, or the service's queued request or running sync (asks first)."""
        if self._refused("cancel"):
            return
        if self.place() == "queue":
            entry = self.query_one(QueueTable).selected_entry
            if entry is not None:
                await self.call_core("Cancel", self.orch.cancel(entry.request.id))
            return
        service, snap = self._row_service(), self.snapshot
        if service is None or snap is None:
            return
        if snap.active is not None and snap.active.request.service == service:
            await self.cancel_running()
            return
        queued = next((e for e in snap.queue if e.request.service == service), None)
        if queued is None:
            self.notify(f"{service} has nothing queued or running.", title="Cancel")
            return
        await self.call_core("Cancel", self.orch.cancel(queued.request.id))

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

    async def action_probe(self) -> None:
        """`r`: the row's service (a queue entry's) probes its open circuit now."""
        if self._refused("probe"):
            return
        service = self._row_service()
        if service is not None:
            await self.probe(service)

    async def probe(self, service: str) -> None:
        """Ask the core for the probe (`Orchestrator.probe_now`), as this console's user; a
        circuit that is not open is the store's refusal, in a toast."""
        asked: list[SyncRequest] = []

        async def call() -> None:
            asked.append(await self.orch.probe_now(service, by="console", subject=os_user()))

        if await self.call_core("Probe now", call()) and asked:
            snap = self.snapshot
            when = "when dispatching resumes" if snap and snap.controls.dispatch_paused else "now"
            self.notify(f"Request #{asked[0].id} probes {service} {when}.", title="Probe now")

    async def action_priority(self, delta: int) -> None:
        if self._refused(f"priority({delta})"):
            return
        entry = self.query_one(QueueTable).selected_entry
        if entry is None:
            self.notify("The queue is empty.", title="Priority")
            return
        # Relative, applied in the store's transaction: a press computed from this frame's
        # snapshot would undo the presses made since (from here or any other console).
        await self.call_core("Priority", self.orch.set_priority(entry.request.id, delta=delta))

    async def action_toggle_dispatch(self) -> None:
        if self._refused("toggle_dispatch"):
            return
        paused = (await self.orch.controls()).dispatch_paused  # not the last frame's
        await self.call_core("Dispatch", self.orch.resume() if paused else self.orch.pause())

    async def action_toggle_schedule(self) -> None:
        if self._refused("toggle_schedule"):
            return
        paused = (await self.orch.controls()).schedule_paused
        await self.call_core(
            "Schedule", self.orch.resume_schedule() if paused else self.orch.pause_schedule()
        )

    async def action_history(self) -> None:
        if self._refused("history"):
            return
        service = self._row_service()
        if service is not None:
            await self.show_history(service)

    async def show_history(self, service: str) -> None:
        from console.tui.screens.history import HistoryScreen  # loads when first opened

        runs = await self.orch.history(service, limit=200)
        self.app.push_screen(HistoryScreen(service, runs))

    def cycle_sort(self) -> None:
        if not self._refused("sort"):
            self.query_one(ServicesTable).cycle_sort()

    def flip_sort(self) -> None:
        if not self._refused("sort_reverse"):
            self.query_one(ServicesTable).flip_sort()


def _open_circuits(snap: Snapshot) -> frozenset[str]:
    return frozenset(s.name for s in snap.services if s.circuit == CircuitState.OPEN)
