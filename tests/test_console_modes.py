"""`i` on a service with no cursor (issue 12, item 15b), through Textual's Pilot.

The console asks the core's one mode rule (`Orchestrator.resolve_mode`, which is
`core.sync.modes.choose_mode` behind every service) before it queues the request,
and says at once that the run will be a full pass. The orders service here is the
real sync engine (demo ERP -> the SQLite replica in the store's file), so the run's
record and the next auto run show what the rule did to the core: the incremental
request ran as a full pass, and the next auto run is incremental, not a second full.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_console_keys import Console, make_console, running, until

from console.tui.widgets.event_log import EventLog
from core.config import DemoFaults, DemoSizes
from core.demo import DEMO_FILENAME, DemoERP, DemoSource
from core.entities import ENTITIES
from core.models import RunOutcome, RunRecord, SyncMode
from core.replica.sqlite import SQLiteReplica
from core.sync.engine import EngineSettings, EntitySyncService
from core.sync.service import RunContext
from core.sync.simulated import SimulatedService

NARROW = (80, 24)


@pytest.fixture
def erp(tmp_path: Path) -> Iterator[DemoERP]:
    sizes = DemoSizes(customers=20, products=20, prices=20, orders=40)
    demo = DemoERP(tmp_path / DEMO_FILENAME, sizes=sizes, changes_per_minute=0)
    yield demo
    demo.close()


def with_real_orders(console: Console, erp: DemoERP) -> None:
    console.app.orch._services["orders"] = EntitySyncService(
        ENTITIES["orders"],
        lambda: DemoSource(erp, DemoFaults()),
        SQLiteReplica(console.db),
        EngineSettings(batch_size=7),
    )


async def finished_runs(console: Console, count: int) -> list[RunRecord]:
    runs = await console.orch.history("orders")
    return runs if len(runs) >= count and all(r.outcome for r in runs) else []


async def test_incremental_without_a_cursor_says_full_and_the_next_auto_is_incremental(
    tmp_path: Path, erp: DemoERP
) -> None:
    console = make_console(tmp_path)
    with_real_orders(console, erp)
    async with running(console, NARROW) as pilot:
        app = console.app
        assert await console.orch.resolve_mode("orders", SyncMode.INCREMENTAL) == (
            SyncMode.FULL,
            "incremental requested, no cursor yet",
        )
        await pilot.press("i")  # orders is the selected row
        await until(pilot, lambda: bool(app.toasts.visible), "the toast")
        toast = app.toasts.visible[0]
        assert toast.title == "Sync: full, not incremental", toast.title
        assert "orders runs a full pass" in toast.message and "no cursor yet" in toast.message
        runs: list[RunRecord] = []

        async def first_done() -> bool:
            runs[:] = await finished_runs(console, 1)
            return bool(runs)

        await until(pilot, first_done, "the incremental request's run")
        full = runs[0]
        assert full.outcome == RunOutcome.SUCCEEDED, full.error
        assert (full.requested_mode, full.mode) == (SyncMode.INCREMENTAL, SyncMode.FULL)
        assert full.mode_reason == "incremental requested, no cursor yet"
        assert full.counts.fetched == erp.count("orders")

        await pilot.press("a")

        async def second_done() -> bool:
            runs[:] = await finished_runs(console, 2)
            return bool(runs)

        await until(pilot, second_done, "the auto run")
        auto = runs[0]
        assert auto.outcome == RunOutcome.SUCCEEDED, auto.error
        assert auto.mode == SyncMode.INCREMENTAL, (auto.mode, auto.mode_reason)
        assert auto.mode_reason.startswith("cursor "), auto.mode_reason
        assert auto.counts.fetched < full.counts.fetched
        log = app.query_one(EventLog)

        def started(mode: str) -> list[str]:
            return [ln for ln in log.lines_kept if "run.started orders" in ln and mode in ln]

        await until(pilot, lambda: len(started("mode=")) == 2, "both runs in the event log")
        assert len(started("mode=full")) == 1 and len(started("mode=incremental")) == 1
        # `i` again, now with a cursor: taken as asked, and no toast about it.
        assert await console.orch.resolve_mode("orders", SyncMode.INCREMENTAL) == (
            SyncMode.INCREMENTAL,
            "incremental requested",
        )


async def test_simulated_services_follow_the_same_rule() -> None:
    service = SimulatedService("orders", run_seconds=0, rows=100)
    assert await service.resolve_mode(SyncMode.INCREMENTAL) == (
        SyncMode.FULL,
        "incremental requested, no cursor yet",
    )
    assert await service.resolve_mode(SyncMode.AUTO) == (SyncMode.FULL, "no cursor yet")
    ctx = RunContext(request_id=1, run_id=1, mode=SyncMode.FULL, mode_reason="", attempt=1)
    await service.run(ctx)
    mode, _ = await service.resolve_mode(SyncMode.AUTO)
    assert mode == SyncMode.INCREMENTAL
