"""Every key, from the one keymap the footer and the palette also use."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from console.tui.keys import ACTIONS, NAVIGATION


def help_table(read_only: bool) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for keys, text in NAVIGATION:
        table.add_row(keys, text)
    for action in ACTIONS:
        if read_only and action.mutating:
            continue
        table.add_row(action.display, action.help)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; height: auto; max-height: 90%; border: thick $accent; background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, read_only: bool) -> None:
        super().__init__()
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "syncdeck keys" + (" (read-only)" if self.read_only else "")
            scroll.border_subtitle = "escape to close"
            yield Static(help_table(self.read_only))
