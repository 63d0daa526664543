"""The queue pane: position order, reordered in place so the selected entry stays selected.

Each entry says when it can run if not now (`QueueEntry.ready_at`: its backoff's
end or its circuit's cooldown end) and where it came from, merges included.
A scheduled request an operator's key upgraded reads `schedule+manual`; after
more merges, the newest source and how many came before it (`manual+2`). The
merged sources come from the `request.merged` events this console has seen
(its first log lines are the store's newest events, so a console that attaches
later knows the recent ones); a merge older than that counts (`schedule+1`).
The selected entry (`selected_entry`) is the one keys act on while the queue has
focus; Enter on it opens its detail (`console.tui.screens.request`). Narrower than
80 columns, it leaves out whole columns, the source first (`DROP`).
"""

from __future__ import annotations

from console.format import clock, duration
from console.tui.layout import Pane
from console.tui.widgets.table import KeyedTable, columns, mode_text, selected_key
from core.models import Event, EventKind, QueueEntry

COLUMNS = columns("# 2, id 5, service 10, mode 4, prio 5, waited 6, ready at 8, source 16")
DROP = ("source", "ready at", "waited", "prio", "mode", "#")
"""The columns left out when the pane is narrower, the first first: id and service stay."""
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
        mode_text(r.mode.value),
        f"{entry.effective_priority:.1f}",
        duration(entry.waited_s),
        ready,
        source,
    )


class QueueTable(Pane, KeyedTable):
    pane_name = "Queue"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id, drop=DROP)
        self._retitle()
        self._merges: dict[int, list[tuple[int, str]]] = {}
        """Each request's merges (event id, source): an event seen live and again in the
        backlog counts once, and a backlog read after a live merge keeps the order."""
        self.entries: dict[int, QueueEntry] = {}
        """The entries shown, by request id, as the last frame had them."""

    @property
    def selected(self) -> int | None:
        key = selected_key(self)
        return None if key is None else int(key)

    @property
    def selected_entry(self) -> QueueEntry | None:
        selected = self.selected
        return None if selected is None else self.entries.get(selected)

    def merged_into(self, request_id: int) -> list[str] | None:
        """The sources merged into a request, oldest first (None: none seen)."""
        merges = self._merges.get(request_id)
        if merges is None:
            return None
        return [source for _, source in sorted(merges, key=lambda m: m[0] or 1 << 62)]

    def note(self, events: list[Event]) -> None:
        """Remember the sources merged into each request, from its merge events, once each."""
        for event in events:
            if event.kind == EventKind.REQUEST_MERGED and event.request_id is not None:
                source = event.data.get("source")
                if not source:
                    continue
                merges = self._merges.setdefault(event.request_id, [])
                if not (event.id and any(i == event.id for i, _ in merges)):
                    merges.append((event.id, str(source)))  # id 0: not from the store, kept
        if len(self._merges) > MAX_MERGES_KEPT:
            for request_id in sorted(self._merges)[: len(self._merges) // 2]:
                del self._merges[request_id]

    def show(self, queue: list[QueueEntry]) -> None:
        self.entries = {e.request.id: e for e in queue}
        rows = ((str(e.request.id), queue_cells(e, self.merged_into(e.request.id))) for e in queue)
        self.put_rows(rows, "id", lambda cell: str(cell)[1:])
