"""What the console's tables share: fixed columns, updates by row key, a sort order.

Columns have fixed widths chosen to fit 80 columns, so that no value widens a
column, no horizontal scrollbar appears and no pane jumps when the first run
lands (a value wider than its column is cut). Rows are updated by key, touching
only changed cells, and reordered in place: the selected row stays selected
through every update, filter and sort.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import DataTable


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


def add_columns(table: DataTable[object], columns: Sequence[Column]) -> None:
    for column in columns:
        table.add_column(column.label, key=column.key, width=column.width)


def update_changed(
    table: DataTable[object], key: str, columns: Sequence[str], cells: Sequence[object]
) -> None:
    """Touch only the cells whose value changed: every update clears the table's render
    caches, and a frame that changes nothing should cost nothing."""
    current = table.get_row(key)
    for column, old, new in zip(columns, current, cells, strict=True):
        if old != new:
            table.update_cell(key, column, new)


def selected_key(table: DataTable[object]) -> str | None:
    if table.row_count == 0:
        return None
    key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    return None if key.value is None else str(key.value)


def apply_order(
    table: DataTable[object],
    column: str,
    wanted: list[str],
    cell_key: Callable[[object], str] | None = None,
) -> None:
    """Put the rows in `wanted`'s order (row keys, which `column`'s cells show, read by
    `cell_key`: the cell's text by default), keeping the selected row selected."""
    read = cell_key or _plain
    current = [row.key.value for row in table.ordered_rows]
    if current == wanted:
        return
    selected = selected_key(table)
    index = {key: i for i, key in enumerate(wanted)}
    table.sort(column, key=lambda cell: index.get(read(cell), len(index)))
    if selected is not None and selected in table.rows:
        table.move_cursor(row=table.get_row_index(selected), animate=False)


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


@dataclass
class SortOrder:
    """Which column a table is sorted by, and which way; `o` cycles, `O` flips."""

    choices: tuple[str, ...]
    index: int = 0
    descending: bool = False

    @property
    def column(self) -> str:
        return self.choices[self.index]

    def cycle(self) -> None:
        self.index = (self.index + 1) % len(self.choices)
        self.descending = False

    def flip(self) -> None:
        self.descending = not self.descending

    @property
    def label(self) -> str:
        return f"sort: {self.column} {'▼' if self.descending else '▲'}"
