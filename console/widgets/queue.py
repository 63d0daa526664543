"""The queue pane: position order, reordered in place so the selected entry stays selected.

Each entry says when it can run if not now (`QueueEntry.ready_at`: its backoff's
end or its circuit's cooldown end) and where it came from, merges included:
a scheduled request an operator's key upgraded reads `schedule+manual`; after
more merges, the newest source and how many came before it (`manual+2`). The
merged sources come from the `request.merged` events this console has seen
(its first log lines are the store's newest events, so a console that attaches
later knows the recent ones); a merge older than that counts (`schedule+1`).
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable

from console.format import clock, duration
from console.widgets.table import Column, add_columns, apply_order, selected_key, update_changed
from core.models import Event, EventKind, QueueEntry

COLUMNS = (
    Column("#", "#", 2),
    Column("id", "id", 5),
    Column("service", "service", 10),
    Column("mode", "mode", 4),
    Column("prio", "prio", 5),
    Column("waited", "waited", 6),
    Column("ready", "ready at", 8),
    Column("source", "source", 16),
)
KEYS = tuple(c.key for c in COLUMNS)
MODE_SHORT = {"incremental": "incr"}
MAX_MERGES_KEPT = 2_000


def merged_source(entry: QueueEntry, merged_from: list[str] | None = None) -> str:
    """Where the request came from: `schedule+manual` for one merge, the newest source and
    how many older ones merged into it (`manual+2`) beyond that, or when a merge is older
    than the events this console has seen (`schedule+1`)."""
    r = entry.request
    chain = ["retry" if r.attempt > 1 else r.source.value, *(merged_from or [])]
    total = max(len(chain), 1 + r.merged)
    if total == 1:
        return chain[0]
    if total == 2 and len(chain) == 2 and chain[0] != chain[1]:
        return "+".join(chain)
    return f"{chain[-1]}+{total - 1}"


def queue_cells(entry: QueueEntry, merged_from: list[str] | None = None) -> tuple[object, ...]:
    r = entry.request
    source = merged_source(entry, merged_from)
    ready = "" if entry.ready_at is None else clock(entry.ready_at)
    return (
        str(entry.position),
        f"#{r.id}",
        r.service,
        MODE_SHORT.get(r.mode.value, r.mode.value),
        f"{entry.effective_priority:.1f}",
        duration(entry.waited_s),
        ready,
        source,
    )


class QueueTable(DataTable[object]):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self.merged_from: dict[int, list[str]] = {}

    def on_mount(self) -> None:
        add_columns(self, COLUMNS)

    @property
    def selected(self) -> int | None:
        key = selected_key(self)
        return None if key is None else int(key)

    def note(self, events: list[Event]) -> None:
        """Remember the sources merged into each request, from its merge events."""
        for event in events:
            if event.kind == EventKind.REQUEST_MERGED and event.request_id is not None:
                source = event.data.get("source")
                if source:
                    self.merged_from.setdefault(event.request_id, []).append(str(source))
        if len(self.merged_from) > MAX_MERGES_KEPT:
            for request_id in sorted(self.merged_from)[: len(self.merged_from) // 2]:
                del self.merged_from[request_id]

    def show(self, queue: list[QueueEntry]) -> None:
        wanted = {str(e.request.id) for e in queue}
        for key in [k for k in self.rows if k.value not in wanted]:
            self.remove_row(key)
        for entry in queue:
            row_key = str(entry.request.id)
            cells = queue_cells(entry, self.merged_from.get(entry.request.id))
            if row_key in self.rows:
                update_changed(self, row_key, KEYS, cells)
            else:
                self.add_row(*cells, key=row_key)
        apply_order(self, "id", [str(e.request.id) for e in queue], lambda c: str(c)[1:])
