"""One service's runs, newest first: whole at 80 columns, the error column in view.

The error column takes the room the others leave, its text cut between two words;
narrower, whole columns are left out (`DROP`): the rejected count, then the error.

Enter opens the selected run's detail (`console.tui.screens.detail`: the full
error, counts, mode and why, duration, attempt). `/` filters the runs as you
type (match count in the border), `o`/`O` sort them, Esc clears a filter or goes
back, as does `q`; the footer names each of these keys (`key_shown`). The
sparkline of durations shows only from two finished runs on: Textual draws a
single value as a solid block the whole width, which says nothing.

Failures: none; the runs are the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Input, Sparkline, Static

from console.format import clock, duration, short_count
from console.tui.keys import shown
from console.tui.widgets.filter_bar import FilterBar
from console.tui.widgets.key_bar import KeyBar
from console.tui.widgets.services import OUTCOME_STYLE, OUTCOME_TEXT
from console.tui.widgets.table import (
    KeyedTable,
    SortOrder,
    columns,
    mode_text,
    selected_key,
)
from core.models import RunRecord

COLUMNS = columns(
    "run 4, started 8, mode 4, outcome 11, took 5, fetched 7, written 7, rej 3, error 12"
)
"""The error column takes the room the others leave, at least 12 cells; Enter shows the
whole error. At 80 columns the rejected count gives it its room (the outcome of a run
that quarantined records is yellow, and its detail says how many)."""
DROP = ("rej", "error", "written", "fetched", "took")
"""The columns left out when the screen is narrower, the first first."""
TREND_RUNS = 2
"""Finished runs needed before the sparkline of durations is drawn."""
SORTS: dict[str, Callable[[RunRecord], Any]] = {
    "started": lambda r: r.started_at.timestamp(),
    "outcome": lambda r: r.outcome.value if r.outcome else "",
    "took": lambda r: r.duration or 0.0,
}


class RunsTable(KeyedTable):
    """The runs; Enter opens the selected one, and the footer says so."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details", key_display="enter"),
    ]


def run_cells(run: RunRecord) -> tuple[object, ...]:
    c = run.counts
    outcome = OUTCOME_TEXT.get(run.outcome, run.outcome.value) if run.outcome else "running"
    style = OUTCOME_STYLE.get(run.outcome, "") if run.outcome else ""
    if run.outcome is not None and run.outcome.value == "succeeded" and c.rejected:
        style = "bold yellow"
    return (
        str(run.id),
        clock(run.started_at),
        mode_text(run.mode.value),
        Text(outcome, style=style),
        duration(run.duration),
        _count(c.fetched),
        _count(c.inserted + c.updated + c.deleted),
        str(c.rejected) if c.rejected else "",
        (run.error or "").replace("\n", " "),
    )


def _count(n: int) -> str:
    """Exact up to seven digits, so the column matches `syncdeck history`."""
    return str(n) if n < 10_000_000 else short_count(n)


def run_line(run: RunRecord) -> str:
    """What the filter matches against: every cell's text, and the error class."""
    cells = [c.plain if isinstance(c, Text) else str(c) for c in run_cells(run)]
    return " ".join([*cells, run.error_class or "", run.mode_reason]).lower()


class HistoryScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("q,h", "app.pop_screen", "Back", show=False),
    ]
    DEFAULT_CSS = """
    HistoryScreen Sparkline { height: 3; margin: 0 1; }
    HistoryScreen #title { padding: 0 1; text-style: bold; }
    HistoryScreen #runs { width: 100%; height: 1fr; border: heavy $foreground; overflow-x: hidden; }
    """

    def __init__(self, service: str, runs: list[RunRecord]) -> None:
        super().__init__()
        self.service = service
        self.runs = runs
        self.filter_text = ""
        self.sorting = SortOrder(tuple(SORTS), descending=True)  # newest first

    def compose(self) -> ComposeResult:
        finished = [r for r in self.runs if r.finished_at is not None]
        trend = len(finished) >= TREND_RUNS
        with Vertical():
            runs = "1 run" if len(self.runs) == 1 else f"{len(self.runs)} runs"
            title = f"History of {self.service}: {runs}, newest first"
            if trend:
                title += " (sparkline: durations, oldest left)"
            yield Static(title, id="title")
            if trend:
                durations = [r.duration or 0.0 for r in reversed(finished)]
                yield Sparkline(durations, summary_function=max)
            yield RunsTable(COLUMNS, id="runs", zebra_stripes=True, drop=DROP, flex="error")
        yield FilterBar(id="history-filter")
        yield KeyBar()

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#runs", KeyedTable)

    def on_mount(self) -> None:
        self._fill()
        self.table.focus()

    def _visible(self) -> list[RunRecord]:
        wanted = self.filter_text.lower()
        runs = [r for r in self.runs if not wanted or wanted in run_line(r)]
        return sorted(runs, key=SORTS[self.sorting.column], reverse=self.sorting.descending)

    def _fill(self) -> None:
        table = self.table
        runs = self._visible()
        table.put_rows(((str(r.id), run_cells(r)) for r in runs), "run")
        parts = [self.sorting.label]
        if self.filter_text:
            parts.insert(0, f"filter: {self.filter_text} ({len(runs)} of {len(self.runs)})")
        table.border_subtitle = " · ".join(parts)
        table.border_title = "Runs"

    @property
    def selected(self) -> RunRecord | None:
        key = selected_key(self.table)
        return next((r for r in self.runs if str(r.id) == key), None)

    # -- keys --------------------------------------------------------------------

    def key_shown(self, action: str) -> bool:
        """Whether the footer shows `action`'s key: the app's keys that act on a history."""
        return shown(action, "history")

    async def start_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.value = self.filter_text
        bar.open()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()  # the main view's log filter is the app's: not this one
        self.filter_text = event.value.strip()
        self._fill()

    def on_filter_bar_closed(self, event: FilterBar.Closed) -> None:
        event.stop()
        if event.cleared:
            self.filter_text = ""
            self._fill()
        self.table.focus()

    def action_back(self) -> None:
        """Esc: clear an active filter first, then go back."""
        if self.filter_text:
            self.filter_text = ""
            self._fill()
            return
        self.app.pop_screen()

    def cycle_sort(self) -> None:
        self.sorting.cycle()
        self._fill()

    def flip_sort(self) -> None:
        self.sorting.flip()
        self._fill()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open_selected()

    def open_selected(self) -> None:
        """The selected run's detail (Enter)."""
        run = self.selected
        if run is not None:
            from console.tui.screens.detail import run_screen

            self.app.push_screen(run_screen(self.service, run))
