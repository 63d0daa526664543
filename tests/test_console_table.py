"""The console's keyed tables redraw a cell whose only change is its colour.

A real Textual app (Pilot) holding one `KeyedTable`: what the operator would see is
the cell's style in the table, read back from the table itself.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from console.tui.widgets.table import KeyedTable, columns

COLUMNS = columns("service 10, health 10")


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield KeyedTable(COLUMNS, id="table")


def health_cell(table: KeyedTable, key: str) -> Text:
    cell = table.get_row(key)[1]
    assert isinstance(cell, Text)
    return cell


async def test_a_cell_that_only_changes_colour_is_redrawn() -> None:
    app = OneTable()
    async with app.run_test() as pilot:
        table = app.query_one(KeyedTable)
        table.put_rows([("orders", ["orders", Text("healthy", style="green")])], "service")
        await pilot.pause()
        table.put_rows([("orders", ["orders", Text("healthy", style="red")])], "service")
        await pilot.pause()
        assert health_cell(table, "orders").style == "red"
        assert health_cell(table, "orders").plain == "healthy"
