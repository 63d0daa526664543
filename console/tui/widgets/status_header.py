"""The header line: who runs syncs and since when; dispatch, schedule, health and the clock.

Fields are separated by " · " and never run together. When the line is wider
than the terminal, the least important field goes first, whole (`console.tui.fit`:
no word is cut; the store's trouble, prose, is cut between two words instead). The
"since" time goes first, the dispatch state and the store's trouble ("store
unwritable: <reason>") last. The schedule field is the runner's schedule (`Snapshot.schedule`, from
the plan it publishes), so an observer under another configuration shows what ticks.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from console.format import clock
from console.tui.fit import Field, fit_fields
from core.models import HealthState, Snapshot

HEALTH_STYLE = {
    HealthState.HEALTHY: "bold green",
    HealthState.DEGRADED: "bold yellow",
    HealthState.UNHEALTHY: "bold red",
}
SEPARATOR = " · "
SCHEDULE_WORDS = {
    "running": ("on", "green"),
    "paused": ("PAUSED", "bold yellow"),
    "disabled": ("off", "dim"),
    "none": ("stopped", "dim"),
}
"""`Snapshot.schedule`, the runner's schedule as it keeps it (its published plan), in the
header's words: an observer shows the runner's state, not its own configuration's, and
"stopped" while no runner is alive to tick (`syncdeck status`: "stopped (no runner)")."""
DISPATCH_WORDS = {
    "running": ("on", "green"),
    "paused": ("PAUSED", "bold yellow"),
    "none": ("stopped", "dim"),
}
"""`Snapshot.dispatch`: "stopped" while no runner is alive to start anything."""


def header_fields(snap: Snapshot, read_only: bool) -> list[Field]:
    """The header's fields in display order, with their importance."""
    fields: list[Field] = []
    if read_only:
        fields.append(Field(8, Text("READ-ONLY", style="bold yellow")))
    who = Text("runner: ")
    if snap.runner is None:
        who.append("none", style="bold red")
        fields.append(Field(7, who))
    else:
        name = "this console" if snap.is_runner else f"{snap.runner.host}:{snap.runner.pid}"
        who.append(name, style="bold")
        fields.append(Field(4, who))
        fields.append(Field(0, Text(f"since {clock(snap.runner.acquired_at)}")))
    word, style = DISPATCH_WORDS.get(snap.dispatch, (snap.dispatch, ""))
    fields.append(Field(9, Text("dispatch ").append(word, style=style)))
    word, style = SCHEDULE_WORDS.get(snap.schedule, (snap.schedule, ""))
    fields.append(Field(5, Text("sched ").append(word, style=style)))
    if snap.store_problem:
        fields.append(Field(9, Text(snap.store_problem, style="bold red"), words=True))
    fields.append(Field(6, Text(snap.health.value, style=HEALTH_STYLE[snap.health])))
    fields.append(Field(2, Text(clock(snap.at))))
    return fields


def fit(fields: list[Field], width: int) -> Text:
    """The header line at `width` cells (`console.tui.fit.fit_fields`)."""
    return fit_fields(fields, width, Text(SEPARATOR, style="dim"))


class StatusHeader(Widget):
    DEFAULT_CSS = """
    StatusHeader { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._fields: list[Field] = []

    def show(self, snap: Snapshot, read_only: bool) -> None:
        fields = header_fields(snap, read_only)
        if [(f.rank, f.text.plain) for f in fields] != [
            (f.rank, f.text.plain) for f in self._fields
        ]:
            self._fields = fields
            self.refresh()

    @property
    def text(self) -> str:
        """The line as drawn at the current width (tests read it)."""
        return fit(self._fields, self.content_size.width).plain

    def render(self) -> Text:
        return fit(self._fields, self.content_size.width)
