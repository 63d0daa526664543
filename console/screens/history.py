"""One service's runs: outcome, mode, counts, duration, error, and a sparkline of durations."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Sparkline, Static

from console.format import clock, duration
from console.widgets.key_bar import KeyBar
from console.widgets.services import OUTCOME_STYLE
from core.models import RunRecord

COLUMNS = (
    "run",
    "started",
    "mode",
    "outcome",
    "took",
    "fetched",
    "ins",
    "upd",
    "del",
    "rej",
    "error",
)


class HistoryScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,h,q", "app.pop_screen", "Back"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]
    DEFAULT_CSS = """
    HistoryScreen Sparkline { height: 3; margin: 0 1; }
    HistoryScreen #title { padding: 0 1; text-style: bold; }
    """

    def __init__(self, service: str, runs: list[RunRecord]) -> None:
        super().__init__()
        self.service = service
        self.runs = runs

    def compose(self) -> ComposeResult:
        with Vertical():
            durations = [r.duration or 0.0 for r in reversed(self.runs) if r.finished_at]
            yield Static(
                f"History of {self.service}: {len(self.runs)} runs, newest first "
                f"(sparkline: durations, oldest left)",
                id="title",
            )
            yield Sparkline(durations or [0.0], summary_function=max)
            yield DataTable[object](id="runs", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        from rich.text import Text

        table = self.query_one("#runs", DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        for run in self.runs:
            c = run.counts
            outcome = run.outcome.value if run.outcome else "running"
            table.add_row(
                str(run.id),
                clock(run.started_at),
                run.mode.value,
                Text(outcome, style=OUTCOME_STYLE.get(run.outcome, "") if run.outcome else ""),
                duration(run.duration),
                str(c.fetched),
                str(c.inserted),
                str(c.updated),
                str(c.deleted),
                str(c.rejected),
                run.error or "",
                key=str(run.id),
            )
        table.focus()

    def action_cursor_down(self) -> None:
        self.query_one("#runs", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#runs", DataTable).action_cursor_up()
