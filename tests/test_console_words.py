"""No word on the console's screen is cut in two, and each kind of number has one format
(issue 21, item 13), in every scene of `support.scenes` at 80x24 and, compact, at 60x20.

A word on screen is whole when it is a word of the text its pane was asked to show
(`support.words`): the header's fields, the services' and the queue's cells, the
Active pane's lines, the log's lines, the footer's keys and labels, the history's
runs, the help's rows. So `since 12…`, `interrupt` (of "interrupted"), `runner
stoppe` and `sync…` fail, while a cut between two words, marked by an ellipsis, does
not. Numbers: rows read in one format (`console.format.short_count`: 950, 2.0k, 20k,
1.2M) wherever the main view shows them, and spans of time in one format
(`console.format.duration`: 9s, 10s, 1m12s) wherever any view does.

The scene tests are plain `def`s running their own event loop, as the snapshot tests do.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from rich.text import Text
from support.scenes import build_scenes
from support.words import cut_words, visible
from textual.widget import Widget

from console.format import duration, short_count
from console.tui.app import SyncdeckApp
from console.tui.fit import Field, fit_fields
from console.tui.fit import cut_words as cut_between_words
from console.tui.screens.help import HelpScreen
from console.tui.screens.history import HistoryScreen
from console.tui.widgets.active import ActivePane
from console.tui.widgets.event_log import EventLog
from console.tui.widgets.key_bar import KeyBar
from console.tui.widgets.queue import QueueTable
from console.tui.widgets.scroll import KeyScroll
from console.tui.widgets.services import COLUMNS, OUTCOME_TEXT, ServicesTable
from console.tui.widgets.status_header import StatusHeader
from console.tui.widgets.table import KeyedTable
from core.models import RunOutcome

SCENES = (
    "idle",
    "running",
    "queued",
    "circuit-open",
    "paused",
    "no-runner",
    "retry-storm",
    "quarantined",
    "help",
    "history",
    "read-only",
)
"""Every scene but the failed run's detail (a box of wrapped prose over the history)."""
SIZES = {"80x24": (80, 24), "60x20": (60, 20)}
ROWS = re.compile(r"^(\d{1,3}|\d\.\d[kMG]|\d{2,3}[kMG])$")
"""`short_count`: 950, 2.0k, 20k, 999k, 1.2M."""
SPAN = re.compile(r"^(\d{1,2}s|\d{1,2}m\d\ds|\d{1,2}h\d\dm|\dd\d\dh|\d+d)$")
"""`duration`: 9s, 59s, 1m12s, 2h05m, 3d04h, 12d."""


def panes(app: SyncdeckApp) -> list[Widget]:
    """The panes on top: the main view's, the history's table, the help's box; the footer."""
    screen = app.screen
    if isinstance(screen, HelpScreen):
        return [screen.query_one(KeyScroll)]
    found: list[Widget] = [screen.query_one(KeyBar)]
    if isinstance(screen, HistoryScreen):
        return [*found, screen.table]
    main = (StatusHeader, ServicesTable, ActivePane, QueueTable, EventLog)
    return [*found, *(screen.query_one(kind) for kind in main)]


def cells(table: KeyedTable, column: str) -> list[str]:
    """The column's cells as shown, top to bottom ([] if the column is left out)."""
    labels = [c.label for c in table.shown_columns]
    if column not in labels:
        return []
    at = labels.index(column)
    out = []
    for row in table.ordered_rows:
        cell = table.get_row(row.key)[at]
        out.append(cell.plain if isinstance(cell, Text) else str(cell))
    return out


def numbers(app: SyncdeckApp) -> tuple[list[str], list[str]]:
    """Every count of rows and every span of time the screen on top shows."""
    rows: list[str] = []
    spans: list[str] = []
    screen = app.screen
    if isinstance(screen, HistoryScreen):
        spans += cells(screen.table, "took")
        return rows, spans
    if isinstance(screen, HelpScreen):
        return rows, spans
    for cell in cells(screen.query_one(ServicesTable), "rows"):
        rows += cell.split("/") if cell != "-" else []
    spans += cells(screen.query_one(QueueTable), "waited")
    text = screen.query_one(ActivePane).text
    spans += re.findall(r"try \d+  (\S+)", text) + re.findall(r"ETA (\S+)", text)
    rows += re.findall(r"(\S+)/s\b", text)
    for done, total in re.findall(r"(\S+)/(\S+?)(?=\s|$)", text):
        if total != "s":
            rows += [done, total]
    return rows, spans


async def _look(
    name: str, size: tuple[int, int], tmp_path: Path
) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    scene = next(s for s in build_scenes(tmp_path) if s.name == name)
    async with scene.app.run_test(size=size) as pilot:
        await scene.run_before(pilot)
        for key in scene.press:
            await pilot.press(key)
        await pilot.pause()
        await pilot.pause()
        app = scene.app
        cut = [(type(w).__name__, *c) for w in panes(app) for c in cut_words(app, w)]
        empty = [type(w).__name__ for w in panes(app) if not any(visible(app, w))]
        rows, spans = numbers(app)
        return (
            cut,
            empty + [f"{r!r} (rows)" for r in rows if not ROWS.match(r)],
            [s for s in spans if not SPAN.match(s)],
        )


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("name", SCENES)
def test_no_word_on_screen_is_cut_and_numbers_have_one_format(
    name: str, size: tuple[int, int], tmp_path: Path, utc: None
) -> None:
    cut, bad_rows, bad_spans = asyncio.run(_look(name, size, tmp_path))
    assert cut == [], cut
    assert bad_rows == [], bad_rows
    assert bad_spans == [], bad_spans


# -- the pieces: formats, and fitting text ------------------------------------------------


def _value(shown: str) -> float:
    scale = {"k": 1e3, "M": 1e6, "G": 1e9}.get(shown[-1], 1.0)
    return float(shown.rstrip("kMG")) * scale


SAMPLES = sorted({*range(0, 1200, 7), *(int(1.37**e) for e in range(80)), 9_999, 10_000})


def test_rows_read_in_one_format_of_at_most_four_cells_never_rounded_up() -> None:
    for n in SAMPLES:
        shown = short_count(n)
        assert ROWS.match(shown) and len(shown) <= 4, (n, shown)
        assert _value(shown) <= n < _value(shown) * 1.1 + 1, (n, shown)
    assert [short_count(n) for n in (950, 2_000, 9_999, 10_000, 20_000, 1_234_567)] == [
        "950",
        "2.0k",
        "9.9k",
        "10k",
        "20k",
        "1.2M",
    ]


def test_spans_of_time_read_in_one_format_in_whole_units() -> None:
    for seconds in [x / 7 for x in range(0, 800)] + [3600 * h + 7 for h in range(0, 400, 3)]:
        shown = duration(seconds)
        assert SPAN.match(shown), (seconds, shown)
    assert [duration(s) for s in (0.4, 9.8, 9.96, 10.0, 10.4, 72.9)] == [
        "0s",
        "9s",
        "9s",
        "10s",
        "10s",
        "1m12s",
    ]


def test_outcomes_read_in_whole_words_that_fit_their_column() -> None:
    width = next(c.width for c in COLUMNS if c.label == "result")
    for outcome in RunOutcome:
        label = OUTCOME_TEXT.get(outcome, outcome.value)
        assert label == outcome.value.replace("_", " ") and len(label) <= width, label


def test_a_line_is_cut_between_two_words_or_not_at_all() -> None:
    text = Text("runner stopped while the sync ran; it is queued again")
    source = set(text.plain.split())
    for width in range(0, 60):
        cut = cut_between_words(text, width).plain
        assert len(cut) <= width, (width, cut)
        assert all(w.removesuffix("…") in source for w in cut.split() if w != "…"), cut
    assert cut_between_words(text, 13).plain == "runner…"


def test_fields_go_whole_the_least_important_first_and_prose_is_cut_between_words() -> None:
    fields = [
        Field(4, Text("runner: this console")),
        Field(0, Text("since 08:00:00")),
        Field(9, Text("dispatch on")),
        Field(9, Text("store unwritable: the disk is full"), words=True),
        Field(2, Text("08:05:19")),
    ]
    assert fit_fields(fields, 200, " · ").plain.count(" · ") == 4
    assert fit_fields(fields, 78, " · ").plain == (
        "runner: this console · dispatch on · store unwritable: the disk is full"
    )
    shown = {w: fit_fields(fields, w, " · ").plain for w in range(10, 100)}
    for width, line in shown.items():
        assert len(line) <= width, (width, line)
        assert "since 08" not in line or "since 08:00:00" in line, line
        whole = {f.text.plain for f in fields}
        for piece in line.split(" · "):  # a field whole, or its first words and an ellipsis
            assert piece in whole or any(
                piece.endswith("…") and f"{piece[:-1]} " in f"{field} " for field in whole
            ), (width, line)
