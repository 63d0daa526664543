"""The command palette (ctrl+p): the same actions as the keys, plus one per service (and a
probe for each service whose circuit is open, as the last frame saw it).

Each command runs the handler its key runs (the main view's, or the app's for the
keys that work on every screen) in a worker, so a refusal is the same toast a key
would give. A read-only console offers only the commands that change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from console.tui.keys import ACTIONS
from core.models import CircuitState, SyncMode

if TYPE_CHECKING:
    from console.tui.app import SyncdeckApp


def palette_commands(app: SyncdeckApp) -> Iterable[SystemCommand]:
    """Palette commands from the same actions as the keys, plus one per service."""
    main = app.main
    services = app.orch.service_names
    if not app.read_only:
        for service in services:
            for mode in SyncMode:
                yield SystemCommand(
                    f"Sync {service} ({mode.value})",
                    f"Request {_article(mode.value)} {mode.value} sync of {service}",
                    lambda s=service, m=mode: app.run_worker(main.sync(s, m)),
                )
        snap = main.snapshot
        paused = snap is not None and snap.controls.dispatch_paused
        sched = snap is not None and snap.controls.schedule_paused
        yield SystemCommand(
            "Resume dispatching" if paused else "Pause dispatching",
            _help("toggle_dispatch"),
            lambda: app.run_worker(main.action_toggle_dispatch()),
        )
        yield SystemCommand(
            "Resume schedule" if sched else "Pause schedule",
            _help("toggle_schedule"),
            lambda: app.run_worker(main.action_toggle_schedule()),
        )
        for view in [] if snap is None else snap.services:
            if view.circuit == CircuitState.OPEN:
                yield SystemCommand(
                    f"Probe {view.name} now",
                    f"Probe the open {view.name} circuit now, not after its cooldown",
                    lambda s=view.name: app.run_worker(main.probe(s)),
                )
        yield SystemCommand(
            "Cancel running sync",
            "Cancel the sync that is running now (asks first)",
            lambda: app.run_worker(main.cancel_running()),
        )
    for service in services:
        yield SystemCommand(
            f"History of {service}",
            f"Runs of {service}: outcome, counts, duration, error",
            lambda s=service: app.run_worker(main.show_history(s)),
        )
    yield SystemCommand(
        "Filter event log", _help("filter"), lambda: app.run_worker(main.open_log_filter())
    )
    yield SystemCommand("Help", _help("help"), app.action_help)
    yield SystemCommand(
        "Quit", _help("quit_console"), lambda: app.run_worker(app.action_quit_console())
    )


def _help(action: str) -> str:
    return next(a.help for a in ACTIONS if a.action == action)


def _article(word: str) -> str:
    """ "an incremental sync", "a full sync"."""
    return "an" if word[:1] in "aeiou" else "a"
