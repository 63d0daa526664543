"""The header line: who runs syncs and since when; dispatch, schedule, health and the clock.

Fields are separated by " · " and never run together. When the line is wider
than the terminal, the least important field is cut first, with an ellipsis
(then dropped if fewer than eight cells of it would remain), then the next. The "since"
time goes first, the dispatch state and the store's trouble ("store unwritable:
<reason>") last. The schedule field is the runner's schedule (`Snapshot.schedule`, from
the plan it publishes), so an observer under another configuration shows what ticks.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from console.format import clock
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


def fit(fields: list[tuple[int, Text]], width: int) -> Text:
    """Join `fields` (importance, text; higher is more important) in their order within
    `width` cells: cut the least important first, with an ellipsis, dropping it when
    fewer than eight cells (or its whole length) of it would remain."""
    kept = [(rank, text.copy()) for rank, text in fields]

    def total() -> int:
        return sum(t.cell_len for _, t in kept) + len(SEPARATOR) * max(0, len(kept) - 1)

    for rank in sorted({r for r, _ in kept}):
        while total() > width:
            index = next((i for i, (r, _) in enumerate(kept) if r == rank), None)
            if index is None:
                break
            text = kept[index][1]
            room = text.cell_len - (total() - width)
            if room >= min(8, text.cell_len):
                text.truncate(room, overflow="ellipsis")
            else:
                del kept[index]
        if total() <= width:
            break
    line = Text(no_wrap=True, overflow="ellipsis")
    for i, (_, text) in enumerate(kept):
        if i:
            line.append(SEPARATOR, style="dim")
        line.append_text(text)
    line.truncate(width, overflow="ellipsis")
    return line


def header_fields(snap: Snapshot, read_only: bool) -> list[tuple[int, Text]]:
    """The header's fields in display order, with their importance."""
    fields: list[tuple[int, Text]] = []
    if read_only:
        fields.append((8, Text("READ-ONLY", style="bold yellow")))
    who = Text("runner: ")
    if snap.runner is None:
        who.append("none", style="bold red")
        fields.append((7, who))
    else:
        name = "this console" if snap.is_runner else f"{snap.runner.host}:{snap.runner.pid}"
        who.append(name, style="bold")
        fields.append((4, who))
        fields.append((0, Text(f"since {clock(snap.runner.acquired_at)}")))
    word, style = DISPATCH_WORDS.get(snap.dispatch, (snap.dispatch, ""))
    fields.append((9, Text("dispatch ").append(word, style=style)))
    word, style = SCHEDULE_WORDS.get(snap.schedule, (snap.schedule, ""))
    fields.append((5, Text("sched ").append(word, style=style)))
    if snap.store_problem:
        fields.append((9, Text(snap.store_problem, style="bold red")))
    fields.append((6, Text(snap.health.value, style=HEALTH_STYLE[snap.health])))
    fields.append((2, Text(clock(snap.at))))
    return fields


class StatusHeader(Widget):
    DEFAULT_CSS = """
    StatusHeader { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._fields: list[tuple[int, Text]] = []

    def show(self, snap: Snapshot, read_only: bool) -> None:
        fields = header_fields(snap, read_only)
        if [(r, t.plain) for r, t in fields] != [(r, t.plain) for r, t in self._fields]:
            self._fields = fields
            self.refresh()

    @property
    def text(self) -> str:
        """The line as drawn at the current width (tests read it)."""
        return fit(self._fields, self.content_size.width).plain

    def render(self) -> Text:
        return fit(self._fields, self.content_size.width)
