"""The services pane: one row per service, updated by row key so the cursor never jumps."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from console.format import clock, duration, short_count
from console.widgets.status_header import HEALTH_STYLE
from core.models import CircuitState, RunOutcome, ServiceView

COLUMNS = ("service", "state", "health", "prio", "next", "last run", "result", "rows")
"""Most important first: on a narrow terminal the last columns scroll, the first never do."""
OUTCOME_STYLE = {
    RunOutcome.SUCCEEDED: "green",
    RunOutcome.FAILED: "bold red",
    RunOutcome.TIMED_OUT: "bold red",
    RunOutcome.CANCELLED: "yellow",
    RunOutcome.INTERRUPTED: "yellow",
}
STATE_TEXT = {"retry_wait": "backoff", "circuit_open": "circuit"}


def update_changed(
    table: DataTable[object], key: str, columns: tuple[str, ...], cells: tuple[object, ...]
) -> None:
    """Touch only the cells whose value changed: every update clears the table's render
    caches, and a frame that changes nothing should cost nothing."""
    current = table.get_row(key)
    for column, old, new in zip(columns, current, cells, strict=True):
        if old != new:
            table.update_cell(key, column, new, update_width=True)


def service_cells(s: ServiceView) -> tuple[object, ...]:
    run = s.last_run
    state = Text(STATE_TEXT.get(s.state, s.state))
    if s.circuit != CircuitState.CLOSED:
        circuit = "open" if s.circuit == CircuitState.OPEN else "probe"
        state = Text(f"{state.plain}/{circuit}", style="bold red")
    result: Text | str = "-"
    rows = "-"
    last = "-"
    if run is not None and run.outcome is not None:
        result = Text(run.outcome.value.replace("_", " "), style=OUTCOME_STYLE.get(run.outcome, ""))
        c = run.counts
        rows = f"{short_count(c.fetched)}/{short_count(c.inserted + c.updated + c.deleted)}"
        last = f"{clock(run.finished_at)} {duration(run.duration)}"
    return (
        Text(s.name, style="bold"),
        state,
        Text(s.health.value, style=HEALTH_STYLE[s.health]),
        str(s.priority),
        clock(s.next_run),
        last,
        result,
        rows,
    )


class ServicesTable(DataTable[object]):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for column in COLUMNS:
            self.add_column(column, key=column)

    @property
    def selected(self) -> str | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return None if key.value is None else str(key.value)

    def show(self, services: list[ServiceView]) -> None:
        wanted = {s.name for s in services}
        for key in [k for k in self.rows if k.value not in wanted]:
            self.remove_row(key)
        for s in services:
            cells = service_cells(s)
            if s.name in self.rows:
                update_changed(self, s.name, COLUMNS, cells)
            else:
                self.add_row(*cells, key=s.name)
