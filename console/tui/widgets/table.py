"""What the console's tables share: fixed columns, updates by row key, a sort order.

Columns have fixed widths chosen to fit 80 columns, so that no value widens a
column, no horizontal scrollbar appears and no pane jumps when the first run
lands (a value wider than its column is cut). A table declares them in one line
(`columns("service 10, state 7, ...")`), a column's label being its key. Rows are
updated by key, touching only changed cells, and reordered in place: the selected
row stays selected through every update, filter and sort (`KeyedTable.put_rows`).
Labels and text cells are shown as they are, never read as Rich markup (`plain_cell`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import msgspec
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

MODE_SHORT = {"incremental": "incr"}
"""Modes as a 4-cell column shows them (`mode_text`)."""


class Column(msgspec.Struct, frozen=True):
    label: str
    """Also the column's key, for `update_cell` and `sort`."""
    width: int


def columns(spec: str) -> tuple[Column, ...]:
    """Columns from "label width, label width, ...": a label may hold spaces ("last run 8").
    Raises ValueError on an entry without a width (at import: a typo shows at once)."""
    out = []
    for entry in spec.split(","):
        label, _, width = entry.strip().rpartition(" ")
        out.append(Column(label, int(width)))
    return tuple(out)


def mode_text(mode: str) -> str:
    return MODE_SHORT.get(mode, mode)


def plain_cell(value: object) -> object:
    """A text cell as DataTable shows a one-line `str` cell, without reading it as markup:
    a value with "[" shows as it is, and the first frame does not wait for Rich's markup
    parser and emoji table (the first markup read imports it)."""
    if isinstance(value, str):
        return Text(value, no_wrap=True, end="")
    return value


def add_columns(table: DataTable[object], columns: Sequence[Column]) -> None:
    for column in columns:
        table.add_column(Text(column.label), key=column.label, width=column.width)


class KeyedTable(DataTable[object]):
    """A table of fixed `columns` whose rows are kept by key; j and k move the cursor."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(
        self, columns: Sequence[Column], *, id: str | None = None, zebra_stripes: bool = False
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=zebra_stripes)
        self.column_spec = tuple(columns)
        self._column_keys = tuple(c.label for c in columns)

    def on_mount(self) -> None:
        add_columns(self, self.column_spec)

    def put_rows(
        self,
        rows: Iterable[tuple[str, Sequence[object]]],
        order_column: str,
        cell_key: Callable[[object], str] | None = None,
    ) -> None:
        """Make the table hold exactly `rows` (key, cells), in their order: rows gone are
        removed, new ones added, the others updated cell by cell (`update_changed`)."""
        rows = [(key, [plain_cell(cell) for cell in cells]) for key, cells in rows]
        wanted = {key for key, _ in rows}
        for gone in [k for k in self.rows if k.value not in wanted]:
            self.remove_row(gone)
        for key, cells in rows:
            if key in self.rows:
                update_changed(self, key, self._column_keys, cells)
            else:
                self.add_row(*cells, key=key)
        apply_order(self, order_column, [key for key, _ in rows], cell_key)


def update_changed(
    table: DataTable[object], key: str, columns: Sequence[str], cells: Sequence[object]
) -> None:
    """Touch only the cells whose value changed: every update clears the table's render
    caches, and a frame that changes nothing should cost nothing."""
    current = table.get_row(key)
    for column, old, new in zip(columns, current, cells, strict=True):
        if not same_cell(old, new):
            table.update_cell(key, column, new)


def same_cell(old: object, new: object) -> bool:
    """Whether a cell would look the same. Rich's `Text ==` compares the text and its spans
    but not the style of the whole text, so a cell that only changed colour would keep
    its old one."""
    if isinstance(old, Text) and isinstance(new, Text):
        return old.plain == new.plain and old.style == new.style and old.spans == new.spans
    return old == new


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


class SortOrder(msgspec.Struct):
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
