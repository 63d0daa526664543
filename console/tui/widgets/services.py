"""The services pane: one row per service, fixed columns that fit 80 columns, a sort.

Narrower, it leaves out whole columns, the rows first, then the last run, the next
run and the result (`DROP`): the service, its state and its health always show.
Rows read in one format whatever their size (`console.format.short_count`: fetched /
written, 950, 2.0k, 20k, 1.2M); outcomes in whole words ("interrupted").

Rows are updated by key so the cursor never jumps (see `console.tui.widgets.table`).
The default order is the snapshot's (default priority, highest first); `o`
sorts by name, state, health (the worst first), next run (the soonest first; none
last) or last run instead, `O` flips the direction, and the border's subtitle
says which. A run that quarantined records is a warning: its
result reads "N rej" in yellow instead of a plain success. The state of a service whose
run is stalled reads `stalled` in yellow, and `orphan` in red when its runner is gone
(the snapshot decides, `core.orchestrator.snapshot`): neither reads as a live run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text

from console.format import clock, short_count
from console.tui.layout import Pane
from console.tui.widgets.status_header import HEALTH_STYLE
from console.tui.widgets.table import KeyedTable, SortOrder, apply_order, columns, selected_key
from core.models import HEALTH_RANK, CircuitState, RunOutcome, ServiceView

COLUMNS = columns("service 10, state 7, health 9, next 8, last run 8, result 11, rows 9")
"""7 columns, 62 cells of text and 14 of padding: whole at 80 columns (78 inside, 2 of them
for a scrollbar). The default priority and the last run's duration are in the service's
detail (Enter)."""
DROP = ("rows", "last run", "next", "result")
"""The columns left out when the pane is narrower, the first first."""
OUTCOME_STYLE = {
    RunOutcome.SUCCEEDED: "green",
    RunOutcome.FAILED: "bold red",
    RunOutcome.TIMED_OUT: "bold red",
    RunOutcome.CANCELLED: "yellow",
    RunOutcome.INTERRUPTED: "yellow",
}
OUTCOME_TEXT = {RunOutcome.TIMED_OUT: "timed out"}
"""Outcomes as the tables show them, in whole words (the others: their own value)."""
STATE_TEXT = {"retry_wait": "backoff", "circuit_open": "circuit", "orphaned": "orphan"}
STATE_STYLE = {"stalled": "bold yellow", "orphaned": "bold red"}
"""A run that is not moving, or whose runner is gone, does not read as a live one."""
SORTS: dict[str, Callable[[ServiceView], Any]] = {
    "priority": lambda s: (-s.priority, s.name),  # the snapshot's own order
    "name": lambda s: s.name,
    "state": lambda s: (s.state, s.name),
    "health": lambda s: (-HEALTH_RANK[s.health], s.name),
    "next run": lambda s: (s.next_run is None, s.next_run.timestamp() if s.next_run else 0.0),
    "last run": lambda s: (
        s.last_run.finished_at.timestamp() if s.last_run and s.last_run.finished_at else 0.0
    ),
}
"""What `o` cycles through, in this order (`O` reverses the one in use)."""


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
    state = Text(STATE_TEXT.get(s.state, s.state), style=STATE_STYLE.get(s.state, ""))
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


class ServicesTable(Pane, KeyedTable):
    pane_name = "Services"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id, zebra_stripes=True, drop=DROP)
        self._retitle()
        self.sorting = SortOrder(tuple(SORTS))
        self.views: dict[str, ServiceView] = {}
        self._order: list[str] = []

    @property
    def selected(self) -> str | None:
        return selected_key(self)

    def show(self, services: list[ServiceView]) -> None:
        self.views = {s.name: s for s in services}
        self._order = [s.name for s in services]
        self.put_rows(((s.name, service_cells(s)) for s in self._sorted()), "service")
        self._label_sort()

    def _sorted(self) -> list[ServiceView]:
        views = [self.views[name] for name in self._order]
        return sorted(views, key=SORTS[self.sorting.column], reverse=self.sorting.descending)

    def _reorder(self) -> None:
        apply_order(self, "service", [s.name for s in self._sorted()])
        self._label_sort()

    def _label_sort(self) -> None:
        order = self.sorting
        self.set_note("" if order.index == 0 and not order.descending else order.label)

    def cycle_sort(self) -> None:
        self.sorting.cycle()
        self._reorder()

    def flip_sort(self) -> None:
        self.sorting.flip()
        self._reorder()
