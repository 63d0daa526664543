"""The console's layout by terminal size: full, compact, or a notice of the size needed.

- At FULL (80x24) and above, each pane of the main view has its whole border and every
  column shows.
- Below it in either direction, the main view is compact: a pane has no bottom border
  (its note, the queue's count or the services' sort, follows its title instead), the
  tables leave out whole columns, least useful first (the service, its state and its
  health always show), the header leaves out whole fields, and the footer whole keys
  (never `? Help` and `q Quit`). Every pane still shows: the services, the active sync,
  the queue and the events.
- Below MINIMUM (50x16) in either direction, nothing fits whole: a one-line notice
  says the size needed (`notice`, shown by `console.tui.screens.size_notice`), and the
  console comes back as it was once the terminal is large enough again.

Textual's own breakpoints (`HORIZONTAL_BREAKPOINTS`) are not used: they set a class
only on the screen on top when the terminal resizes, so a main view resized under the
help screen would come back in its old layout. The main view asks `layout_for` itself
when it is resized, mounted or shown again. Nothing here raises.
"""

from __future__ import annotations

from typing import ClassVar, Literal, cast

from rich.text import Text
from textual.widget import Widget

from console.tui.fit import Field, fit_fields

FULL = (80, 24)
"""The smallest terminal (columns, lines) in which the main view is whole, every column."""
MINIMUM = (50, 16)
"""The smallest terminal the console draws in (compact); below it, only a notice."""
COMPACT_CLASS = "-compact"
"""The main view's class in the compact layout (`syncdeck.tcss`)."""

Layout = Literal["full", "compact", "too-small"]


def layout_for(width: int, height: int) -> Layout:
    if width < MINIMUM[0] or height < MINIMUM[1]:
        return "too-small"
    if width < FULL[0] or height < FULL[1]:
        return "compact"
    return "full"


SHORT_FIXED = 5
"""The lines a short compact view gives the header, the footer and the Active pane (3)."""
QUEUE_MIN, LOG_MIN = 3, 2
"""The queue's title, its columns and one entry; the log's title and one line."""


def short_heights(height: int, services: int) -> tuple[int, int] | None:
    """The most lines the services pane and the queue may take in a view `height` lines
    high that holds `services` services: None from FULL's height on (the stylesheet's).
    The services give way first, down to a title, their columns and one row; the queue
    takes what they leave but the log's last line."""
    if height >= FULL[1]:
        return None
    room = height - SHORT_FIXED
    services_lines = max(3, min(services + 2, room - QUEUE_MIN - LOG_MIN))
    return services_lines, max(QUEUE_MIN, room - services_lines - LOG_MIN)


def notice(width: int, height: int) -> Text:
    """The one line shown below MINIMUM, within `width` cells."""
    fields = [
        Field(8, Text("Terminal too small:", style="bold")),
        Field(9, Text(f"syncdeck needs {MINIMUM[0]}x{MINIMUM[1]}", style="bold yellow")),
        Field(7, Text(f"(this is {width}x{height})")),
    ]
    return fit_fields(fields, width)


class Pane:
    """A main-view pane's border texts (a mixin for its widget class): its name on the top
    border and a note (the queue's count, the services' sort, the log's filter) on the
    bottom one; in the compact layout, which draws no bottom border, the note follows the
    name on the top one ("Queue · 3 queued")."""

    pane_name: ClassVar[str] = ""
    _note = ""
    _compact = False

    def set_note(self, note: str) -> None:
        if note != self._note:
            self._note = note
            self._retitle()

    def set_compact(self, compact: bool) -> None:
        if compact != self._compact:
            self._compact = compact
            self._retitle()

    def _retitle(self) -> None:
        widget = cast(Widget, self)
        widget.border_subtitle = self._note
        note = f" · {self._note}" if self._compact and self._note else ""
        widget.border_title = f"{self.pane_name}{note}"
