"""What a console screen shows, pane by pane, and whether each word on it is whole.

Test support, not part of the product. A pane's visible lines are read from the
screen the compositor draws (what an operator sees), within the pane's content
region (its border, padding and scrollbars left out). A word is whole when it is a word of the
text the pane was asked to show, uncut (`source_words`): a word cut short (`since 08…`
of "since 08:00:00", `stoppe` of "stopped") is not. A trailing ellipsis marks a cut
between two words and is not part of the word before it.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widget import Widget

from console.tui.app import SyncdeckApp
from console.tui.keys import ACTIONS, NAVIGATION, where_text
from console.tui.screens.help import HelpScreen
from console.tui.screens.history import HistoryScreen, run_cells
from console.tui.widgets.active import ActivePane, active_lines
from console.tui.widgets.event_log import EventLog
from console.tui.widgets.key_bar import KeyBar
from console.tui.widgets.queue import QueueTable, queue_cells
from console.tui.widgets.services import ServicesTable, service_cells
from console.tui.widgets.status_header import SEPARATOR, StatusHeader, header_fields
from console.tui.widgets.table import KeyedTable

FOOTER_MARKS = str.maketrans({"/": " ", "▏": " "})
"""The footer's joints: "f/i/a Sync" is the keys f, i and a, and a label."""


def screen_lines(app: SyncdeckApp) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def visible(app: SyncdeckApp, widget: Widget) -> list[str]:
    """The lines of `widget`'s content region (less its scrollbars) as the screen shows them."""
    lines = screen_lines(app)
    r = widget.scrollable_content_region.intersection(app.screen.region)
    return [lines[y][r.x : r.x + r.width] for y in range(r.y, r.y + r.height)]


def words(text: str) -> list[str]:
    """The words of `text` as shown: split on spaces, a cut's ellipsis left out."""
    out = []
    for word in text.split():
        word = word.removesuffix("…")
        if word:
            out.append(word)
    return out


def _plain(cells: Iterable[object]) -> str:
    return " ".join(c.plain if isinstance(c, Text) else str(c) for c in cells)


def source_words(app: SyncdeckApp, widget: Widget) -> set[str]:
    """Every word `widget` was asked to show, uncut."""
    main = app.main
    snap = main.snapshot
    assert snap is not None
    text: list[str] = []
    if isinstance(widget, KeyedTable):
        text.append(" ".join(c.label for c in widget.column_spec))
    if isinstance(widget, StatusHeader):
        text += [f.text.plain for f in header_fields(snap, app.read_only)] + [SEPARATOR]
    elif isinstance(widget, ActivePane):
        text += [line.plain for line in active_lines(snap)]
    elif isinstance(widget, ServicesTable):
        text += [_plain(service_cells(s)) for s in snap.services]
    elif isinstance(widget, QueueTable):
        text += [_plain(queue_cells(e, widget.merged_into(e.request.id))) for e in snap.queue]
    elif isinstance(widget, EventLog):
        text += list(widget.lines_kept)
    elif isinstance(widget, KeyBar):
        offers, palette = widget.offers()
        text += [f"{o.display} {o.description} {o.group}" for o in offers]
        text += [] if palette is None else [f"{palette.display} {palette.description}"]
        text = [t.translate(FOOTER_MARKS) for t in text]
    elif isinstance(widget.screen, HistoryScreen) and isinstance(widget, KeyedTable):
        text += [_plain(run_cells(r)) for r in widget.screen.runs]
    elif isinstance(widget.screen, HelpScreen):
        text += [" ".join(row) for row in NAVIGATION]
        text += [f"{a.display} {where_text(a)} {a.help}" for a in ACTIONS]
    return {w for line in text for w in line.split()}


def cut_words(app: SyncdeckApp, widget: Widget) -> list[tuple[str, str]]:
    """The words `widget` shows that are not whole: (the word, its line)."""
    source = source_words(app, widget)
    found = []
    for line in visible(app, widget):
        shown = line.translate(FOOTER_MARKS) if isinstance(widget, KeyBar) else line
        found += [(w, line) for w in words(shown) if w not in source]
    return found
