"""A console that watches another process's runner (no lease of its own), through Pilot.

The runner here is a second orchestrator on the same SQLite file, as a daemon would be;
the console sees its run only through the store.
"""

from __future__ import annotations

import re
from pathlib import Path

from test_console_keys import HeldService, make_console, running, until

from console.tui.widgets.active import ActivePane
from core.config import Settings
from core.models import SyncMode
from core.orchestrator import Orchestrator
from core.store import SQLiteStore

NARROW = (80, 24)
STALL_S = 1.5


def stalling_runner(db: Path) -> tuple[Orchestrator, dict[str, HeldService]]:
    """A runner whose run is stalled after `STALL_S` without progress."""
    services = {name: HeldService(name) for name in ("orders", "customers", "products", "prices")}
    settings = Settings.from_values(
        data_dir=db.parent, orchestrator={"stall_s": STALL_S, "retry": {"tries": 1}}
    )
    return Orchestrator(SQLiteStore(db), services, settings, schedule=False), services


async def test_an_observer_shows_a_stalled_runners_last_progress_as_stalled(
    tmp_path: Path,
) -> None:
    runner, services = stalling_runner(tmp_path / "syncdeck.db")
    await runner.start()
    try:
        services["orders"].hold()  # it reports 5/10 once, then stalls
        await runner.request("orders", SyncMode.FULL)
        console = make_console(tmp_path, read_only=True, runner=False)
        async with running(console, NARROW) as pilot:
            pane = console.app.query_one(ActivePane)
            await until(pilot, lambda: "5/10" in pane.text, "the runner's stored progress")
            await until(
                pilot,
                lambda: "stalled: no progress for" in pane.text,
                "the run said stalled",
                timeout=STALL_S + 10,
            )
            progress_line = pane.text.splitlines()[1]
            assert re.search(r"^stalled: no progress for \S+ .*5/10", progress_line), pane.text
            assert "/s" not in progress_line and "ETA" not in progress_line, progress_line
        services["orders"].release.set()
    finally:
        await runner.stop()
