"""The header line: who runs syncs and since when; dispatch, schedule, health and the clock.

Two halves: the right one (state an operator acts on) never truncates; the left
one (who the runner is) ends in an ellipsis on a narrow terminal.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from console.format import clock
from core.models import HealthState, Snapshot

HEALTH_STYLE = {
    HealthState.HEALTHY: "bold green",
    HealthState.DEGRADED: "bold yellow",
    HealthState.UNHEALTHY: "bold red",
}


class StatusHeader(Horizontal):
    DEFAULT_CSS = """
    StatusHeader { height: 1; background: $panel; color: $text; padding: 0 1; }
    StatusHeader #who { width: 1fr; }
    StatusHeader #state { width: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="who")
        yield Static(id="state")

    def show(self, snap: Snapshot, read_only: bool) -> None:
        who = Text(no_wrap=True, overflow="ellipsis")
        if read_only:
            who.append("READ-ONLY ", style="bold yellow")
        who.append("runner: ")
        if snap.runner is None:
            who.append("none", style="bold red")
        else:
            name = "this console" if snap.is_runner else f"{snap.runner.host}:{snap.runner.pid}"
            who.append(name, style="bold")
            who.append(f" since {clock(snap.runner.acquired_at)}")
        self.query_one("#who", Static).update(who)

        state = Text(no_wrap=True)
        paused = snap.controls.dispatch_paused
        state.append("dispatch ")
        state.append("PAUSED" if paused else "on", style="bold yellow" if paused else "green")
        state.append(" · sched ")
        if not any(s.schedule_enabled for s in snap.services):
            state.append("off", style="dim")  # disabled by configuration
        elif snap.controls.schedule_paused:
            state.append("PAUSED", style="bold yellow")
        else:
            state.append("on", style="green")
        state.append(" · ")
        state.append(snap.health.value, style=HEALTH_STYLE[snap.health])
        state.append(f" · {clock(snap.at)}")
        self.query_one("#state", Static).update(state)
