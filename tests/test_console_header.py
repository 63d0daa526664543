"""The header's schedule field is the runner's schedule (`Snapshot.schedule`), through Pilot.

An observer console runs under its own configuration (schedule on); the runner is
another orchestrator on the same SQLite store, under a configuration of its own,
which it publishes in the store (`RunnerPlan`). The observer's header shows what the
runner does: off when the runner keeps no schedule, stopped while no runner is
alive to tick, PAUSED when the store's control says so.
"""

from __future__ import annotations

from pathlib import Path

from test_console_keys import SERVICES, HeldService, make_console, running, until

from console.tui.widgets.status_header import StatusHeader
from core.config import Settings
from core.orchestrator import Orchestrator
from core.store import SQLiteStore

NARROW = (80, 24)


def runner_orchestrator(db: Path, *, schedule: bool) -> Orchestrator:
    settings = Settings.from_values(data_dir=db.parent, schedule={"enabled": schedule})
    services = {name: HeldService(name) for name in SERVICES}
    return Orchestrator(SQLiteStore(db), services, settings, runner=True)


async def test_an_observer_shows_the_runners_schedule_not_its_own(tmp_path: Path) -> None:
    console = make_console(tmp_path, runner=False, read_only=True)
    assert console.orch.settings.schedule.enabled  # the observer's own: on
    async with running(console, NARROW) as pilot:
        header = console.app.query_one(StatusHeader)
        await until(pilot, lambda: "runner: none" in header.text, "the header")
        assert "sched stopped" in header.text, header.text  # nothing ticks without a runner
        assert (await console.orch.snapshot()).schedule == "none"

        runner = runner_orchestrator(console.db, schedule=False)
        await runner.start()
        try:
            await until(pilot, lambda: "runner: none" not in header.text, "the runner")
            await until(pilot, lambda: "sched off" in header.text, "the runner's schedule")
            snap = await console.orch.snapshot()
            assert snap.schedule == "disabled" and snap.plan_holder == runner.holder_id
        finally:
            await runner.stop()

        runner = runner_orchestrator(console.db, schedule=True)
        await runner.start()
        try:
            await until(pilot, lambda: "sched on" in header.text, "a scheduling runner")
            await runner.pause_schedule()
            await until(pilot, lambda: "sched PAUSED" in header.text, "the paused schedule")
            assert (await console.orch.snapshot()).schedule == "paused"
            await runner.resume_schedule()
            await until(pilot, lambda: "sched on" in header.text, "the schedule resumed")
        finally:
            await runner.stop()
        await until(pilot, lambda: "sched stopped" in header.text, "the runner gone")
