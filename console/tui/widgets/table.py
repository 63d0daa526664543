"""What the console's tables share: fixed columns, updates by row key, a sort order.

Columns have fixed widths chosen to fit 80 columns, so that no value widens a
column, no horizontal scrollbar appears and no pane jumps when the first run
lands; a value is made to fit its column, never cut by it. A table declares them in one
line (`columns("service 10, state 7, ...")`), a column's label being its key. Rows are
updated by key, touching only changed cells, and reordered in place: the selected
row stays selected through every update, filter and sort (`KeyedTable.put_rows`).
Labels and text cells are shown as they are, never read as Rich markup (`plain_cell`).

A table narrower than all its columns (a terminal under 80 columns) leaves whole
columns out, in the order it names (`drop`), rather than cutting the last one off;
one column may take whatever room is left (`flex`: the history's error). The room is
the table's width less its vertical scrollbar's, whether or not that shows, so the
columns do not change when rows come and go. They are laid out again only when a
resize changes them (`fit_columns`): the rows, and the selection, stay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import msgspec
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widgets import DataTable

from console.tui.fit import cut_words

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


CELL_PADDING = 2
"""DataTable's padding around every column's cells (one cell each side)."""


def fitting(
    columns: Sequence[Column], room: int, drop: Sequence[str] = (), flex: str | None = None
) -> tuple[Column, ...]:
    """The columns shown in `room` cells: all if they fit, else without the ones in `drop`,
    in its order, until they fit; the `flex` column (if kept) takes what room is left,
    at least its own width."""

    def need(cols: Sequence[Column]) -> int:
        return sum(c.width + CELL_PADDING for c in cols)

    shown = list(columns)
    for label in drop:
        if need(shown) <= room:
            break
        shown = [c for c in shown if c.label != label]
    if flex is not None:
        spare = room - need(shown)
        shown = [Column(c.label, c.width + max(0, spare)) if c.label == flex else c for c in shown]
    return tuple(shown)


class KeyedTable(DataTable[object]):
    """A table of fixed `columns` whose rows are kept by key; j and k move the cursor."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        id: str | None = None,
        zebra_stripes: bool = False,
        drop: Sequence[str] = (),
        flex: str | None = None,
    ) -> None:
        """`drop`: the columns that may be left out when room is short, the first to go
        first; `flex`: the one that takes the room left (see `fitting`)."""
        super().__init__(id=id, cursor_type="row", zebra_stripes=zebra_stripes)
        self.column_spec = tuple(columns)
        self.shown_columns = self.column_spec
        """The columns on screen now (`fit_columns`)."""
        self._drop = tuple(drop)
        self._flex = flex
        self._column_keys = tuple(c.label for c in columns)
        self._rows: list[tuple[str, list[object]]] = []
        """The last `put_rows`' rows, every column's cells: what a new layout shows."""

    def on_mount(self) -> None:
        add_columns(self, self.column_spec)

    def on_resize(self, event: events.Resize) -> None:
        self.fit_columns()

    @property
    def room(self) -> int:
        """The cells the columns may take: the width inside the border and padding, less
        the vertical scrollbar's, shown or not."""
        return self.size.width - self.styles.scrollbar_size_vertical

    def fit_columns(self) -> None:
        """Show the columns that fit the table's width now; lay them out again (the rows
        and the selection stay) only if that changes them."""
        if self.size.width <= 0:
            return
        wanted = fitting(self.column_spec, self.room, self._drop, self._flex)
        if wanted == self.shown_columns:
            return
        for column in self.shown_columns:
            self.remove_column(column.label)
        self.shown_columns = wanted
        self._column_keys = tuple(c.label for c in wanted)
        add_columns(self, wanted)
        for key, cells in self._rows:
            if key in self.rows:
                for label, cell in zip(self._column_keys, self._shown(cells), strict=True):
                    self.update_cell(key, label, cell)

    def _shown(self, cells: Sequence[object]) -> list[object]:
        """The cells of the columns on screen, of a row's cells in every column, each made
        to fit its column (`fit_cell`)."""
        picked = list(cells)
        if len(self.shown_columns) != len(self.column_spec):
            index = {c.label: i for i, c in enumerate(self.column_spec)}
            picked = [cells[index[c.label]] for c in self.shown_columns]
        return [fit_cell(cell, c.width) for cell, c in zip(picked, self.shown_columns, strict=True)]

    def put_rows(
        self,
        rows: Iterable[tuple[str, Sequence[object]]],
        order_column: str,
        cell_key: Callable[[object], str] | None = None,
    ) -> None:
        """Make the table hold exactly `rows` (key, cells in every column), in their order:
        rows gone are removed, new ones added, the others updated cell by cell
        (`update_changed`); only the cells of the columns on screen are shown."""
        kept = [(key, [plain_cell(cell) for cell in cells]) for key, cells in rows]
        self._rows = kept
        wanted = {key for key, _ in kept}
        for gone in [k for k in self.rows if k.value not in wanted]:
            self.remove_row(gone)
        for key, cells in kept:
            shown = self._shown(cells)
            if key in self.rows:
                update_changed(self, key, self._column_keys, shown)
            else:
                self.add_row(*shown, key=key)
        apply_order(self, order_column, [key for key, _ in kept], cell_key)


def fit_cell(cell: object, width: int) -> object:
    """A text cell wider than its column, cut between two words (`console.tui.fit`): the
    table would cut it wherever the column ends."""
    if isinstance(cell, Text) and cell.cell_len > width:
        return cut_words(cell, width)
    return cell


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
