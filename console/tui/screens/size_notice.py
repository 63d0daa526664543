"""The one line shown in a terminal smaller than the console's minimum (`console.tui.layout`).

The app puts this screen over whatever was on top when the terminal shrank below
MINIMUM, and takes it away once the terminal is large enough again, so the console
comes back as it was (a sync goes on running meanwhile). While it shows, only the
ways out work (`q`, ctrl+q, ctrl+c, asking first during a sync, as they always do):
every other key would act on a selection nobody can see.

Failures: none.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from console.tui.layout import layout_for, notice


class SizeNotice(Screen[None]):
    DEFAULT_CSS = """
    SizeNotice { background: $background; }
    SizeNotice > Static { width: 100%; height: 1; }
    """

    def compose(self) -> ComposeResult:
        width, height = self.app.size
        yield Static(notice(width, height), id="size-notice")

    def on_resize(self, event: events.Resize) -> None:
        self.query_one(Static).update(notice(event.size.width, event.size.height))

    def on_screen_resume(self) -> None:
        """Back on top (a question over it was answered): gone if the terminal grew meanwhile."""
        if layout_for(*self.app.size) != "too-small":
            self.dismiss()
