"""The event log: bounded, newest last, filterable by any text in a line."""

from __future__ import annotations

from collections import deque

from textual.widgets import RichLog

from console.format import clock
from core.models import Event, EventKind

MAX_LINES = 500
QUIET = {EventKind.RUN_PROGRESS}


def describe(event: Event) -> str:
    parts = [clock(event.at), event.kind.value]
    if event.service:
        parts.append(event.service)
    if event.request_id:
        parts.append(f"#{event.request_id}")
    data = event.data
    for key in ("outcome", "mode", "priority", "new", "circuit", "attempt", "holder", "error"):
        value = data.get(key)
        if value not in (None, ""):
            parts.append(f"{key}={value}")
    return " ".join(parts)


class EventLog(RichLog):
    """Keeps the last MAX_LINES lines; a filter redraws from them."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, **kwargs)  # type: ignore[arg-type]
        self.lines_kept: deque[str] = deque(maxlen=MAX_LINES)
        self.filter_text = ""

    def add(self, events: list[Event]) -> None:
        for event in events:
            if event.kind in QUIET:
                continue
            line = describe(event)
            self.lines_kept.append(line)
            if self._matches(line):
                self.write(line)

    def _matches(self, line: str) -> bool:
        return not self.filter_text or self.filter_text.lower() in line.lower()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.clear()
        for line in self.lines_kept:
            if self._matches(line):
                self.write(line)
        self.border_subtitle = f"filter: {self.filter_text}" if self.filter_text else ""
