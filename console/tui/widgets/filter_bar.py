"""The live filter box (`/`), k9s-style: filters as you type, Enter keeps, Esc clears.

It is an `Input`: every printable key it receives is text, never a command (an
Input consumes printable keys before any binding sees them), so typing `q`
filters for "q". The host (the main screen for the event log, the history
screen for its runs) applies `Input.Changed` and closes it on `Closed`.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    BINDINGS = [Binding("escape", "clear", "Clear filter")]
    DEFAULT_CSS = """
    FilterBar { dock: bottom; height: 1; border: none; padding: 0 1; margin-bottom: 1;
                display: none; background: $boost; }
    FilterBar:focus { border: none; text-style: bold; }
    FilterBar.-open { display: block; }
    """

    class Closed(Message):
        """The box closed: `cleared` when Esc emptied it, else Enter kept its text."""

        def __init__(self, bar: FilterBar, cleared: bool) -> None:
            super().__init__()
            self.bar = bar
            self.cleared = cleared

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="filter (Enter keeps, Esc clears)", id=id)

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def open(self) -> None:
        self.add_class("-open")
        self.focus()

    def close(self, cleared: bool) -> None:
        if cleared:
            self.value = ""
        self.remove_class("-open")
        self.post_message(self.Closed(self, cleared))

    def action_clear(self) -> None:
        self.close(cleared=True)

    async def action_submit(self) -> None:
        self.close(cleared=False)
