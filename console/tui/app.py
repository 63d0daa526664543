"""The operations console: a view and a controller over the core's public API.

It holds no orchestration logic (principle 10). The app is the shell. It owns
the lifecycle (the event subscription; the orchestrator, when it manages it; the
schedule, started after the first frame), the toasts and the fault notice. It
also owns the keys that work over the history too (`?`, `q`, `/`, `o`, `O`; the
last three act on the screen on top, and are offered only where it filters or
sorts). The panes and the keys that act on them are the main
view's, its default screen (`console.tui.screens.main`). A request that failed
for good, a circuit change and a runner takeover become toasts, at most two on
screen (`console.tui.toasts`); nothing the core reports crashes the app. A store
that breaks under the console (corrupt, deleted or replaced) ends dispatch and
drawing, and a blocking notice offers only quit (exit code 2:
`console.tui.screens.fault`). Quitting asks first when it would interrupt a sync
this console runs. A terminal below the console's minimum size gets a one-line
notice of the size needed over whatever was on top, and only the ways out work
until it is large enough again (`console.tui.layout`, `console.tui.screens.size_notice`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from textual import events
from textual.app import App, SystemCommand
from textual.notifications import SeverityLevel
from textual.screen import Screen

from console.gc_pause import resume_gc
from console.tui.keys import bindings
from console.tui.layout import layout_for
from console.tui.screens.main import MainScreen
from console.tui.toasts import Toast, ToastPolicy, ToastRack
from core.errors import StoreBroken
from core.models import Event
from core.orchestrator import Orchestrator

if TYPE_CHECKING:
    from console.tui.screens.size_notice import SizeNotice

QUIT_ACTIONS = frozenset({"quit_console", "quit", "help_quit"})
"""q, ctrl+q and ctrl+c: the keys that work over the size notice too."""


@runtime_checkable
class Filterable(Protocol):
    """A screen that `/` filters (the main view's event log, a history's runs)."""

    async def start_filter(self) -> None: ...


@runtime_checkable
class Sortable(Protocol):
    """A screen that `o` and `O` sort (the main view's services, a history's runs)."""

    def cycle_sort(self) -> None: ...
    def flip_sort(self) -> None: ...


class SyncdeckApp(App[None]):
    CSS_PATH = "syncdeck.tcss"
    TITLE = "syncdeck"
    BINDINGS = bindings(anywhere=True)
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
        """`manage_orchestrator`: start it as the app loads and stop it on exit (tests,
        scenes); otherwise the caller owns its lifecycle, as `console.tui.launch` does.
        `live=False`: draw only when `main.limiter.redraw()` is called (deterministic
        pictures)."""
        super().__init__()
        self.orch = orchestrator
        self.read_only = read_only
        self.main = MainScreen(orchestrator, read_only=read_only, clock=clock, live=live)
        self._manage = manage_orchestrator
        self.toasts = ToastRack(self)
        self._toast_policy = ToastPolicy(lambda: orchestrator.holder_id)
        self.fault: StoreBroken | None = None
        """The store broke under the console: it shows why and offers only quit."""
        self.size_notice: SizeNotice | None = None
        """The notice of a terminal below the minimum size, while it is on the screen stack."""
        self._drawn = False

    def get_default_screen(self) -> Screen[None]:
        return self.main

    # -- lifecycle --------------------------------------------------------------

    async def on_load(self) -> None:
        """Before the main view is composed, so that its first frame finds the core up."""
        self._subscription = self.orch.events()  # before start: see the lease being taken
        if self._manage:
            await self.orch.start()

    async def on_mount(self) -> None:
        await self.main.started()  # mounted once the main view shows its first frame
        self._drawn = True
        self.fit_terminal()
        self.run_worker(self._consume_events(), exclusive=True, group="events")
        self.run_worker(self._watch_fault(), group="fault")

    def on_resize(self, event: events.Resize) -> None:
        if self._drawn:
            self.call_later(self.fit_terminal)

    def fit_terminal(self) -> None:
        """Below the minimum size, the notice over everything; large enough again, without."""
        small = layout_for(*self.size) == "too-small"
        notice = self.size_notice
        shown = notice is not None and notice in self.screen_stack
        if small and not shown:
            from console.tui.screens.size_notice import SizeNotice  # loads when first needed

            self.size_notice = SizeNotice()
            self.push_screen(self.size_notice)
        elif not small and shown and self.screen is notice:
            self.pop_screen()  # under a question, it goes when it is on top again

    async def _consume_events(self) -> None:
        async for event in self._subscription:
            batch = [event, *self._subscription.pending()]
            self._react(batch)
            self.main.log_events(batch)

    async def _watch_fault(self) -> None:
        self.store_broke(await self.orch.wait_for_fault())

    def on_main_screen_store_broke(self, message: MainScreen.StoreBroke) -> None:
        self.store_broke(message.fault)

    def store_broke(self, fault: StoreBroken) -> None:
        """Stop drawing and show the blocking notice: from now on the only key is q."""
        self.main.limiter.stop()
        if self.fault is None:
            from console.tui.screens.fault import FaultScreen  # screens load when first opened

            self.fault = fault
            self.push_screen(FaultScreen(fault))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.fault is not None:
            return False  # the store broke: the notice's own q is the only key
        if self.size_notice is not None and self.screen is self.size_notice:
            return action in QUIT_ACTIONS  # nothing to see: only the ways out
        # `/`, `o` and `O` only where the screen on top filters or sorts (not help, details).
        if action == "filter":
            return isinstance(self.screen, Filterable)
        if action in ("sort", "sort_reverse"):
            return isinstance(self.screen, Sortable)
        return True

    def on_main_screen_first_frame(self, message: MainScreen.FirstFrame) -> None:
        """What the first frame need not wait for (see `console.gc_pause`): the garbage
        collector (and the default thread switch interval), and the schedule
        (`Orchestrator.start_schedule`; a no-op if started)."""
        resume_gc()
        self.run_worker(self.main.call_core("Schedule", self.orch.start_schedule()), group="start")

    async def on_unmount(self) -> None:
        self._subscription.close()
        if self._manage:
            await self.orch.stop()

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

    # -- the keys that work on every screen ----------------------------------------

    async def action_filter(self) -> None:
        screen = self.screen
        if isinstance(screen, Filterable):
            await screen.start_filter()

    def action_sort(self) -> None:
        screen = self.screen
        if isinstance(screen, Sortable):
            screen.cycle_sort()

    def action_sort_reverse(self) -> None:
        screen = self.screen
        if isinstance(screen, Sortable):
            screen.flip_sort()

    def action_help(self) -> None:
        from console.tui.screens.help import HelpScreen  # screens load when first opened

        self.push_screen(HelpScreen(self.read_only))

    async def action_quit_console(self) -> None:
        """Quit; first ask, when that would interrupt a sync this console is running."""
        snap = self.main.snapshot
        if self.orch.is_runner and snap is not None and snap.active is not None:
            service = snap.active.request.service

            async def leave() -> None:
                self.exit()

            article = "an" if service[:1].lower() in "aeiou" else "a"
            self.main.ask(
                f"This console is running {article} {service} sync. Quitting interrupts it: it is "
                "recorded as interrupted and queued again, and another syncdeck process "
                "(or this console, next time) runs it.\n\nQuit?",
                snap.active.request.id,
                leave,
            )
            return
        self.exit()

    async def action_quit(self) -> None:
        """Textual's own way out (ctrl+q) asks what `q` asks."""
        await self.action_quit_console()

    def action_help_quit(self) -> None:
        """ctrl+c, which Textual answers with a hint to press ctrl+q, asks what `q` asks."""
        self.call_later(self.action_quit_console)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Palette commands from the same actions as the keys, plus one per service."""
        from console.tui.palette import palette_commands  # loads when the palette opens

        return palette_commands(self)
