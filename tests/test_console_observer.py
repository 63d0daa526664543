"""A console that watches another process's runner (no lease of its own), through Pilot.

The runner here is a second orchestrator on the same SQLite file, as a daemon would be;
the console sees its run only through the store.
"""

from __future__ import annotations

import re
from pathlib import Path

from test_console_keys import make_console, make_orchestrator, running, until

from console.documents import STALE_PROGRESS_S
from console.tui.widgets.active import ActivePane
from core.models import SyncMode

NARROW = (80, 24)


async def test_an_observer_shows_a_stalled_runners_last_progress_as_old(tmp_path: Path) -> None:
    runner, services = make_orchestrator(tmp_path / "syncdeck.db")
    await runner.start()
    try:
        services["orders"].hold()  # it reports 5/10 once, then stalls
        await runner.request("orders", SyncMode.FULL)
        console = make_console(tmp_path, read_only=True, runner=False)
        async with running(console, NARROW) as pilot:
            pane = console.app.query_one(ActivePane)
            await until(pilot, lambda: "5/10" in pane.text, "the runner's stored progress")
            assert "reported" not in pane.text  # fresh figures carry no age
            await until(
                pilot,
                lambda: "reported" in pane.text,
                "the stalled report's age",
                timeout=STALE_PROGRESS_S + 10,
            )
            progress_line = pane.text.splitlines()[1]
            assert re.search(r"5/10 .*reported \S+ ago", progress_line), progress_line
        services["orders"].release.set()
    finally:
        await runner.stop()
