"""The services pane: one row per service, fixed columns that fit 80 columns, a sort.

Rows are updated by key so the cursor never jumps (see `console.widgets.table`).
The default order is the snapshot's (default priority, highest first); `o`
sorts by name, last run or state instead, `O` flips the direction, and the
border's subtitle says which. A run that quarantined records is a warning: its
result reads "N rej" in yellow instead of a plain success.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from console.format import clock, short_count
from console.widgets.status_header import HEALTH_STYLE
from console.widgets.table import (
    Column,
    SortOrder,
    add_columns,
    apply_order,
    selected_key,
    update_changed,
)
from core.models import CircuitState, RunOutcome, ServiceView

COLUMNS = (
    Column("service", "service", 10),
    Column("state", "state", 7),
    Column("health", "health", 9),
    Column("next", "next", 8),
    Column("last", "last run", 8),
    Column("result", "result", 9),
    Column("rows", "rows", 11),
)
"""7 columns, 62 cells of text and 14 of padding: whole at 80 columns (78 inside). The
default priority and the last run's duration are in the service's detail (Enter)."""
KEYS = tuple(c.key for c in COLUMNS)
OUTCOME_STYLE = {
    RunOutcome.SUCCEEDED: "green",
    RunOutcome.FAILED: "bold red",
    RunOutcome.TIMED_OUT: "bold red",
    RunOutcome.CANCELLED: "yellow",
    RunOutcome.INTERRUPTED: "yellow",
}
OUTCOME_TEXT = {RunOutcome.TIMED_OUT: "timed out", RunOutcome.INTERRUPTED: "interrupt"}
STATE_TEXT = {"retry_wait": "backoff", "circuit_open": "circuit"}
SORTS: dict[str, Callable[[ServiceView], Any]] = {
    "priority": lambda s: (-s.priority, s.name),  # the snapshot's own order
    "name": lambda s: s.name,
    "last run": lambda s: (
        s.last_run.finished_at.timestamp() if s.last_run and s.last_run.finished_at else 0.0
    ),
    "state": lambda s: s.state,
}


def outcome_text(s: ServiceView) -> Text:
    run = s.last_run
    if run is None or run.outcome is None:
        return Text("-")
    if run.outcome == RunOutcome.SUCCEEDED and run.counts.rejected:
        return Text(f"{short_count(run.counts.rejected)} rej", style="bold yellow")
    label = OUTCOME_TEXT.get(run.outcome, run.outcome.value)
    return Text(label, style=OUTCOME_STYLE.get(run.outcome, ""))


def service_cells(s: ServiceView) -> tuple[object, ...]:
    run = s.last_run
    state = Text(STATE_TEXT.get(s.state, s.state))
    if s.circuit == CircuitState.OPEN:
        state = Text("circuit", style="bold red")
    elif s.circuit == CircuitState.HALF_OPEN:
        state = Text("probe", style="bold red")
    rows = last = "-"
    if run is not None and run.outcome is not None:
        c = run.counts
        rows = f"{short_count(c.fetched)}/{short_count(c.inserted + c.updated + c.deleted)}"
        last = clock(run.finished_at)
    return (
        Text(s.name, style="bold"),
        state,
        Text(s.health.value, style=HEALTH_STYLE[s.health]),
        clock(s.next_run),
        last,
        outcome_text(s),
        rows,
    )


class ServicesTable(DataTable[object]):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.sorting = SortOrder(tuple(SORTS))
        self.views: dict[str, ServiceView] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        add_columns(self, COLUMNS)

    @property
    def selected(self) -> str | None:
        return selected_key(self)

    def show(self, services: list[ServiceView]) -> None:
        wanted = {s.name for s in services}
        for key in [k for k in self.rows if k.value not in wanted]:
            self.remove_row(key)
        for s in services:
            cells = service_cells(s)
            if s.name in self.rows:
                update_changed(self, s.name, KEYS, cells)
            else:
                self.add_row(*cells, key=s.name)
        self.views = {s.name: s for s in services}
        self._order = [s.name for s in services]
        self._reorder()

    def _reorder(self) -> None:
        key = SORTS[self.sorting.column]
        order = self.sorting
        views = [self.views[name] for name in self._order]
        ordered = sorted(views, key=key, reverse=order.descending)
        apply_order(self, "service", [s.name for s in ordered])
        self.border_subtitle = "" if order.index == 0 and not order.descending else order.label

    def cycle_sort(self) -> None:
        self.sorting.cycle()
        self._reorder()

    def flip_sort(self) -> None:
        self.sorting.flip()
        self._reorder()
