"""The event log: bounded, newest last, live-filtered by any text in a line.

It starts with the store's newest events (`add_backlog`, read through the
orchestrator once the first frame is up), then live ones; an event seen both
ways is logged once (by its store id), and lines stay in id order. The filter
(`/`) applies as the operator types; the border says how many lines match. A line
wider than the pane ends between two words, with an ellipsis (`console.tui.fit`),
never mid-word; when the pane's width changes, the lines are fitted to it again.

It draws its lines itself (Textual's line API), as RichLog would draw one-line `Text`
without markup: RichLog brings Rich's pretty-printer and a highlighter to the first frame,
for lines that are never anything but text.
"""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.format import clock
from console.tui.fit import cut_words
from console.tui.layout import Pane
from core.models import Event, EventKind

MAX_LINES = 500
QUIET = {EventKind.RUN_PROGRESS}


def describe(event: Event) -> str:
    """The event's line. One line, whatever its values hold: each run of white space (a
    multi-line error's line breaks and indents) reads as one space."""
    parts = [clock(event.at), event.kind.value]
    if event.service:
        parts.append(event.service)
    if event.request_id:
        parts.append(f"#{event.request_id}")
    data = event.data
    for key in (
        "outcome",
        "mode",
        "priority",
        "new",
        "circuit",
        "attempt",
        "source",
        "holder",
        "error",
    ):
        value = data.get(key)
        if value not in (None, ""):
            parts.append(f"{key}={value}")
    return " ".join(" ".join(parts).split())


class EventLog(Pane, ScrollView, can_focus=True):
    """Keeps the last MAX_LINES lines; a filter redraws from them. While it shows its last
    line (`auto_scroll`), a new one scrolls into view."""

    DEFAULT_CSS = """
    EventLog {
        background: $surface;
        color: $foreground;
        overflow-y: scroll;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """
    pane_name = "Events"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[Strip] = []
        """The lines drawn, those that match the filter, each as wide as its text."""
        self._widest = 0
        """The widest line's cells since the last clear (the scrollable width)."""
        self.auto_scroll = True
        self.lines_kept: deque[str] = deque(maxlen=MAX_LINES)
        self._ids: deque[int] = deque(maxlen=MAX_LINES)
        """The store id of each kept line (0: not from the store), in step with lines_kept."""
        self.filter_text = ""
        self._width = 0
        """The width the lines on screen were fitted to (0: not known yet, uncut)."""
        self._retitle()

    def on_resize(self, event: events.Resize) -> None:
        """A new width (the first one included): fit the lines to it again."""
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._redraw()

    def _write(self, line: str) -> None:
        """Add a line at the bottom; before the pane has a width, `on_resize` draws it."""
        if not self._width:
            return
        text = cut_words(Text(line, no_wrap=True, end=""), self._width)
        strip = Strip(text.render(self.app.console))
        self.lines.append(strip)
        if len(self.lines) > MAX_LINES:
            del self.lines[:-MAX_LINES]
            self.refresh()
        self._widest = max(self._widest, strip.cell_length)
        self.virtual_size = Size(self._widest, len(self.lines))
        if self.auto_scroll:
            self.scroll_end(animate=False, immediate=False, x_axis=False)

    def clear(self) -> None:
        self.lines.clear()
        self._widest = 0
        self.virtual_size = Size(0, 0)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = scroll_y + y
        style = self.rich_style
        if index >= len(self.lines):
            return Strip.blank(width, style)
        return self.lines[index].crop_extend(scroll_x, scroll_x + width, style).apply_style(style)

    def add(self, events: list[Event]) -> None:
        seen = set(self._ids)
        for event in events:
            if event.kind in QUIET or (event.id and event.id in seen):
                continue
            line = describe(event)
            self.lines_kept.append(line)
            self._ids.append(event.id)
            if self._matches(line):
                self._write(line)
        if self.filter_text:
            self._count()

    def add_backlog(self, events: list[Event]) -> None:
        """Older events from the store: merged in id order before the live ones."""
        seen = set(self._ids)
        older = [e for e in events if e.kind not in QUIET and e.id and e.id not in seen]
        if not older:
            return
        merged = sorted(
            [*zip(self._ids, self.lines_kept, strict=True), *((e.id, describe(e)) for e in older)],
            key=lambda pair: pair[0] or 1 << 62,
        )[-MAX_LINES:]
        self._ids = deque((i for i, _ in merged), maxlen=MAX_LINES)
        self.lines_kept = deque((line for _, line in merged), maxlen=MAX_LINES)
        self._redraw()

    def _matches(self, line: str) -> bool:
        return not self.filter_text or self.filter_text.lower() in line.lower()

    def set_filter(self, text: str) -> None:
        text = text.strip()
        if text == self.filter_text:
            return
        self.filter_text = text
        self._redraw()

    def _redraw(self) -> None:
        self.clear()
        for line in self.lines_kept:
            if self._matches(line):
                self._write(line)
        self._count()
        if self.auto_scroll:
            self.scroll_end(animate=False)

    @property
    def matches(self) -> int:
        return sum(1 for line in self.lines_kept if self._matches(line))

    def _count(self) -> None:
        if self.filter_text:
            self.set_note(f"filter: {self.filter_text} ({self.matches} of {len(self.lines_kept)})")
        else:
            self.set_note("")
