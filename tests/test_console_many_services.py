"""Twelve services in the console at 80x24: the services pane scrolls, and the selected
service stays on screen however far down the operator goes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from console.tui.app import SyncdeckApp
from console.tui.widgets.services import ServicesTable
from core.config import load_settings
from core.runtime import build_orchestrator

EXTRA = 8


def settings_with_twelve(tmp_path: Path) -> Path:
    erp = tmp_path / "erp.db"
    with sqlite3.connect(erp) as db:
        for i in range(EXTRA):
            db.execute(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, at TEXT)")
    tables = "".join(
        f'\n[entities.extra_{i}]\nsource = "erp"\ntable = "t{i}"\nkey = "id"\n'
        'cursor = "at"\ncolumns = { id = "integer", at = "timestamp" }\n'
        for i in range(EXTRA)
    )
    config = tmp_path / "syncdeck.toml"
    config.write_text(
        f'[source]\nkind = "simulated"\n[schedule]\nenabled = false\n'
        f'[sources.erp]\nkind = "sql"\nurl = "sqlite:///{erp}"\n{tables}',
        encoding="utf-8",
    )
    return config


async def test_the_selection_stays_visible_in_a_pane_of_twelve_at_80x24(tmp_path: Path) -> None:
    settings = load_settings(settings_with_twelve(tmp_path), tmp_path / "data")
    orch = build_orchestrator(settings, runner=True)
    app = SyncdeckApp(orch, manage_orchestrator=True)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(ServicesTable)
        for _ in range(100):
            if table.row_count == 12:
                break
            await pilot.pause(0.05)
        assert table.row_count == 12
        assert table.region.height < 12 + 2  # the pane cannot show them all at once
        names = [str(table.get_row_at(i)[0]).strip() for i in range(table.row_count)]
        for _ in range(11):
            await pilot.press("j")
        await pilot.pause()
        assert table.cursor_row == 11
        assert table.scroll_y > 0  # it scrolled to keep the selection in view
        shown = app.export_screenshot()
        assert names[11] in shown, names
        for _ in range(11):
            await pilot.press("k")
        await pilot.pause()
        assert table.cursor_row == 0 and table.scroll_y == 0
        assert names[0] in app.export_screenshot()
