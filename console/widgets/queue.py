"""The queue pane: position order, reordered in place so the selected entry stays selected."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from console.format import duration
from console.widgets.services import update_changed
from core.models import QueueEntry

COLUMNS = ("#", "id", "service", "mode", "prio", "waited", "source")


def queue_cells(entry: QueueEntry) -> tuple[object, ...]:
    r = entry.request
    source = "retry" if r.attempt > 1 else r.source.value
    if r.not_before is not None:
        source += " (backoff)"
    return (
        entry.position,
        f"#{r.id}",
        r.service,
        r.mode.value,
        f"{entry.effective_priority:.1f}",
        duration(entry.waited_s),
        source,
    )


class QueueTable(DataTable[object]):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for column in COLUMNS:
            self.add_column(column, key=column)

    @property
    def selected(self) -> int | None:
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return None if key.value is None else int(key.value)

    def ordered_rows_keys(self) -> list[RowKey]:
        return [row.key for row in self.ordered_rows]

    def show(self, queue: list[QueueEntry]) -> None:
        selected = self.selected
        wanted = {str(e.request.id) for e in queue}
        for key in [k for k in self.rows if k.value not in wanted]:
            self.remove_row(key)
        for entry in queue:
            row_key = str(entry.request.id)
            cells = queue_cells(entry)
            if row_key in self.rows:
                update_changed(self, row_key, COLUMNS, cells)
            else:
                self.add_row(*cells, key=row_key)
        in_order = [str(e.request.id) for e in queue]
        if [k.value for k in self.ordered_rows_keys()] != in_order:
            self.sort("#")
        if selected is not None and str(selected) in self.rows:
            self.move_cursor(row=self.get_row_index(str(selected)), animate=False)
