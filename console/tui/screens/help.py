"""Every key, from the one keymap the footer and the palette also use, and where it acts.

One line per key (no line wraps from 100 columns on, so the whole help fits a
100x30 terminal without scrolling); on a smaller one, `j`/`k`, the arrows and
pgup/pgdn scroll it. A read-only console lists only the keys that change nothing.

Failures: none.
"""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from console.tui.keys import ACTIONS, NAVIGATION, where_text
from console.tui.widgets.scroll import KeyScroll


def help_table(read_only: bool) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(style="dim", no_wrap=True)
    table.add_column()
    for keys, where, text in NAVIGATION:
        table.add_row(keys, where, text)
    for action in ACTIONS:
        if read_only and action.mutating:
            continue
        table.add_row(action.display, where_text(action), action.help)
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
            yield Static(help_table(self.read_only))
