"""The header line: who runs syncs and since when, dispatch and schedule state, health, clock."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from console.format import clock
from core.models import HealthState, Snapshot

HEALTH_STYLE = {
    HealthState.HEALTHY: "bold green",
    HealthState.DEGRADED: "bold yellow",
    HealthState.UNHEALTHY: "bold red",
}


class StatusHeader(Static):
    DEFAULT_CSS = """
    StatusHeader { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def show(self, snap: Snapshot, read_only: bool) -> None:
        text = Text()
        text.append("syncdeck", style="bold")
        if read_only:
            text.append(" [read-only]", style="bold yellow")
        text.append("  runner: ")
        if snap.runner is None:
            text.append("none", style="bold red")
        elif snap.is_runner:
            text.append(f"this console since {clock(snap.runner.acquired_at)}", style="bold")
        else:
            text.append(
                f"{snap.runner.host} pid {snap.runner.pid} since {clock(snap.runner.acquired_at)}",
                style="bold",
            )
        text.append("  dispatch: ")
        paused = snap.controls.dispatch_paused
        text.append("PAUSED" if paused else "on", style="bold yellow" if paused else "green")
        text.append("  schedule: ")
        sched = snap.controls.schedule_paused
        text.append("PAUSED" if sched else "on", style="bold yellow" if sched else "green")
        text.append("  health: ")
        text.append(snap.health.value, style=HEALTH_STYLE[snap.health])
        text.append(f"  {clock(snap.at)}")
        self.update(text)
