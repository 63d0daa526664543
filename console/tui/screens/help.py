"""Every key, from the one keymap the footer and the palette also use, and where it acts.

One line per key (no line wraps from 100 columns on, so the whole help fits a
100x30 terminal without scrolling); on a smaller one, `j`/`k`, the arrows and
pgup/pgdn scroll it, and under 80 columns the "where" column gives its room to the
descriptions, which wrap between words. A read-only console lists only the keys that
change nothing.

Failures: none.
"""

from __future__ import annotations

from rich.table import Table
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from console.tui.keys import ACTIONS, NAVIGATION, where_text
from console.tui.layout import FULL
from console.tui.widgets.scroll import KeyScroll


def help_table(read_only: bool, *, where: bool = True) -> Table:
    """Every key: its keys, where it acts (unless `where` is False) and what it does."""
    table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    if where:
        table.add_column(style="dim", no_wrap=True)
    table.add_column()
    rows = [*NAVIGATION]
    rows += [(a.display, where_text(a), a.help) for a in ACTIONS if not (read_only and a.mutating)]
    for keys, place, text in rows:
        table.add_row(*((keys, place, text) if where else (keys, text)))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > KeyScroll {
        width: 96; max-width: 100%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, read_only: bool) -> None:
        super().__init__()
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        with KeyScroll() as scroll:
            scroll.border_title = "syncdeck keys" + (" (read-only)" if self.read_only else "")
            scroll.border_subtitle = "j/k scroll · escape closes"
            yield Static(self._table(self.app.size.width))

    def _table(self, width: int) -> Table:
        return help_table(self.read_only, where=width >= FULL[0])

    def on_resize(self, event: events.Resize) -> None:
        self.query_one(Static).update(self._table(event.size.width))
