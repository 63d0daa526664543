"""Is the running sync still moving? Stalled and orphaned, decided once
(`core.health.run_condition`, applied by the snapshot's projection), and what the
console's documents, `syncdeck status` and a webhook say of it.

Views are built by hand: the projection reads nothing else, so each case states the
facts that lead to its answer. The last test runs a runner and an observer on one SQLite
file: the report before a hang reaches the store, and the stall is told once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import msgspec
from test_snapshot_plan import PLAN
from test_snapshot_projection import LEASE, NOW, POLICY, service, view

from console.cli.render import render_status
from console.documents import status_document
from core.config import Settings
from core.health import ORPHANED_NOTE, elapsed, run_condition
from core.models import (
    Event,
    EventKind,
    HealthState,
    Progress,
    RequestSource,
    RequestState,
    RunCounts,
    RunRecord,
    Snapshot,
    SyncMode,
    SyncRequest,
)
from core.notify import NoticePolicy
from core.orchestrator import Orchestrator
from core.orchestrator.snapshot import project
from core.store import SQLiteStore
from core.store.base import StoreView
from core.sync.service import RunContext

STARTED = NOW - timedelta(seconds=300)
REPORT = Progress(phase="full listing", done=4000, total=20000, rate=70524.0)


def running_view(
    *,
    moved_s_ago: float | None = 72,
    lease: object = LEASE,
    holder: str = LEASE.holder,
    stall_s: float | None = 60.0,
) -> StoreView:
    """orders running since `STARTED` under `holder`, its last stored report moved
    `moved_s_ago` (None: it stored none); the runner's published stall rule `stall_s`."""
    request = SyncRequest(
        id=7,
        service="orders",
        mode=SyncMode.FULL,
        priority=4,
        state=RequestState.RUNNING,
        source=RequestSource.MANUAL,
        requested_at=STARTED,
        started_at=STARTED,
    )
    run = RunRecord(
        id=3,
        request_id=7,
        service="orders",
        requested_mode=SyncMode.FULL,
        mode=SyncMode.FULL,
        epoch=LEASE.epoch,
        holder=holder,
        started_at=STARTED,
    )
    stored = None
    if moved_s_ago is not None:
        recorded_at = NOW - timedelta(seconds=moved_s_ago)
        stored = msgspec.structs.replace(REPORT, recorded_at=recorded_at)
    base = view([service("orders", last_success_at=NOW), service("prices")], [], lease=lease)  # type: ignore[arg-type]
    return msgspec.structs.replace(
        base,
        running=request,
        running_run=run,
        running_progress=stored,
        plan=msgspec.structs.replace(PLAN, stall_s=stall_s),
    )


def snap(v: StoreView, *, local: Progress | None = None, holder_dead: bool = False) -> Snapshot:
    return project(
        v,
        Settings(),
        POLICY,
        local_run=None if local is None else (7, local),
        remote_progress={},
        holder_dead=holder_dead,
        is_runner=local is not None,
    )


def test_elapsed_reads_as_people_read_it() -> None:
    assert [elapsed(s) for s in (2.04, 12, 72, 7500, 3 * 86400 + 4 * 3600, 12 * 86400)] == [
        "2s",
        "12s",
        "1m12s",
        "2h05m",
        "3d04h",
        "12d",
    ]


def test_the_rule_orphaned_first_then_stalled_then_running() -> None:
    moved = NOW - timedelta(seconds=72)
    assert run_condition(STARTED, moved, NOW, 60, True).state == "stalled"
    assert run_condition(STARTED, moved, NOW, 60, True).note == "stalled: no progress for 1m12s"
    assert run_condition(STARTED, moved, NOW, 73, True).state == "running"
    assert run_condition(STARTED, moved, NOW, 73, True).note is None
    assert run_condition(STARTED, moved, NOW, 73, False).note == ORPHANED_NOTE
    # nothing stored yet: counted from the run's start
    assert run_condition(STARTED, None, NOW, 60, True).quiet_s == 300


def test_a_run_quiet_for_the_runners_stall_s_is_stalled_with_no_rate_and_a_degraded_service() -> (
    None
):
    s = snap(running_view())
    assert s.active is not None
    assert (s.active.condition, s.active.quiet_s) == ("stalled", 72)
    assert s.active.note == "stalled: no progress for 1m12s"
    assert s.active.progress is not None and s.active.progress.done == 4000
    assert s.active.progress.rate is None and s.active.progress.eta_s is None
    orders = s.services[0]
    assert orders.health == HealthState.DEGRADED and orders.health_reasons == [s.active.note]
    assert orders.state == "stalled"  # its row does not read as a live run either
    assert s.health == HealthState.DEGRADED
    assert s.services[1].health == HealthState.HEALTHY  # only the running service's


def test_the_runners_own_process_decides_on_the_store_too_and_shows_its_own_figures() -> None:
    """The runner's console shows its in-process report (fresher), but the stall is the
    store's: the same answer as every observer's."""
    live = Progress(phase="full listing", done=4000, total=20000, rate=70524.0)
    s = snap(running_view(), local=live)
    assert s.active is not None and s.active.condition == "stalled"
    assert s.active.progress is not None and s.active.progress.rate is None
    fresh = snap(running_view(moved_s_ago=1), local=live)
    assert fresh.active is not None and fresh.active.condition == "running"
    assert fresh.active.progress == live  # a moving run keeps its rate and ETA


def test_the_runners_published_stall_rule_wins_over_this_processs() -> None:
    v = running_view(moved_s_ago=30, stall_s=20)
    assert snap(v).active.condition == "stalled"  # type: ignore[union-attr]
    older = running_view(moved_s_ago=30, stall_s=None)  # a runner that publishes none
    assert snap(older).active.condition == "running"  # type: ignore[union-attr]


def test_a_run_with_no_live_runner_is_orphaned_the_schedule_and_dispatch_stopped() -> None:
    for s in (
        snap(running_view(lease=None)),
        snap(running_view(), holder_dead=True),
        snap(running_view(moved_s_ago=1, holder="gone:9")),  # another holder's lease
    ):
        assert s.active is not None and s.active.condition == "orphaned", s.active
        assert s.active.note == ORPHANED_NOTE
        assert s.active.progress is not None and s.active.progress.eta_s is None
        assert s.services[0].health == HealthState.DEGRADED
        assert ORPHANED_NOTE in s.services[0].health_reasons
        assert s.services[0].state == "orphaned"
    gone = snap(running_view(lease=None))
    assert (gone.dispatch, gone.schedule) == ("none", "none")
    assert all(s.next_run is None for s in gone.services)  # nothing ticks: none promised
    alive = snap(running_view(moved_s_ago=1))
    assert (alive.dispatch, alive.schedule) == ("running", "running")
    assert alive.services[0].state == "running"
    assert alive.services[0].next_run is not None


def test_status_text_and_json_say_it_without_a_rate_or_an_eta() -> None:
    stalled = snap(running_view())
    text = render_status(stalled)
    lines = text.splitlines()
    at = lines.index("active:   #7 orders (full)")
    assert lines[at + 1] == "          ! stalled: no progress for 1m12s"
    assert lines[at + 2] == "progress: full listing done=4000 total=20000"
    assert "health: degraded" in text
    doc = status_document(stalled)
    active = doc["active"]
    assert (active["condition"], active["no_progress_s"]) == ("stalled", 72)
    assert active["note"] == "stalled: no progress for 1m12s"
    assert active["progress"]["rate"] is None and active["progress"]["eta_s"] is None
    assert doc["dispatch"] == "running"

    orphaned = snap(running_view(lease=None))
    text = render_status(orphaned)
    assert "dispatch: stopped (no runner)   schedule: stopped (no runner)" in text
    assert f"          ! {ORPHANED_NOTE}" in text.splitlines()
    assert all(len(line) <= 80 for line in text.splitlines() if "!" in line), text
    doc = status_document(orphaned)
    assert (doc["dispatch"], doc["active"]["condition"]) == ("none", "orphaned")

    moving = status_document(snap(running_view(moved_s_ago=1)))
    assert (moving["active"]["condition"], moving["active"]["note"]) == ("running", None)
    assert moving["active"]["progress"]["rate"] == 70524.0


def test_a_stall_is_one_notice_saying_how_long() -> None:
    event = Event(
        id=9,
        at=NOW,
        kind=EventKind.RUN_STALLED,
        service="orders",
        request_id=7,
        run_id=3,
        data={"no_progress_s": 72.0, "stall_s": 60.0, "done": 4000, "total": 20000},
    )
    [notice] = NoticePolicy().events([event])
    assert notice.kind == "run.stalled" and notice.service == "orders"
    assert notice.text.startswith("orders sync stalled: no progress for 1m12s")
    assert notice.data["request_id"] == 7 and notice.data["done"] == 4000


class HangingOrders:
    """Reports twice within `progress_persist_s`, then hangs until released."""

    name = "orders"

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        return SyncMode.FULL, "test"

    async def run(self, ctx: RunContext) -> RunCounts:
        ctx.report("full listing", 2000, 20000)
        ctx.report("full listing", 4000, 20000)  # too soon to be stored at once
        await self.release.wait()
        return RunCounts(fetched=4000)


async def until(check: Callable[[], Awaitable[object]], what: str, timeout: float = 20) -> object:
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return value


async def test_the_last_report_before_a_hang_reaches_the_store_and_the_stall_is_told_once(
    data_dir: Path,
) -> None:
    settings = Settings.from_values(
        data_dir=data_dir,
        schedule={"enabled": False},
        orchestrator={"heartbeat_s": 0.2, "stall_s": 1.0, "retry": {"tries": 1}},
    )
    db = data_dir / "syncdeck.db"
    orders = HangingOrders()
    runner = Orchestrator(SQLiteStore(db), {"orders": orders}, settings, schedule=False)
    observer = Orchestrator(SQLiteStore(db), {"orders": orders}, settings, runner=False)
    await runner.start()
    await observer.start()
    try:
        await until(lambda: asyncio.sleep(0, runner.is_runner), "the lease")
        request = await runner.request("orders", SyncMode.FULL)

        async def observed(condition: str) -> Snapshot | None:
            s = await observer.snapshot()
            ok = s.active is not None and s.active.condition == condition
            return s if ok else None

        moving = await until(lambda: observed("running"), "the run")
        stalled = await until(lambda: observed("stalled"), "the run stalled")
        assert isinstance(stalled, Snapshot) and isinstance(moving, Snapshot)
        assert stalled.active is not None and stalled.active.progress is not None
        assert stalled.active.progress.done == 4000  # the second report landed too
        mine = await runner.snapshot()
        assert mine.active is not None and mine.active.condition == "stalled"
        assert mine.active.progress is not None and mine.active.progress.done == 4000

        async def kinds() -> list[EventKind]:
            return [e.kind for e in await runner.events_since(0)]

        await until(lambda: _has(kinds(), EventKind.HEALTH_CHANGED), "the health recorded")
        [state] = [s for s in await runner.services() if s.name == "orders"]
        assert state.health == HealthState.DEGRADED
        [changed] = [e for e in await runner.events_since(0) if e.kind == EventKind.HEALTH_CHANGED]
        assert changed.data["reasons"][0].startswith("stalled: no progress for"), changed

        async def quiet_for_a_few_beats() -> bool:
            s = await observer.snapshot()
            return s.active is not None and s.active.quiet_s > 2.0  # stall_s + 5 heartbeats

        await until(quiet_for_a_few_beats, "more heartbeats while stalled")
        orders.release.set()
        result = await runner.wait(request.id, timeout=20)
        assert result.run is not None and result.run.outcome is not None
        assert (await kinds()).count(EventKind.RUN_STALLED) == 1
        stall = next(e for e in await runner.events_since(0) if e.kind == EventKind.RUN_STALLED)
        assert (stall.service, stall.data["done"], stall.data["stall_s"]) == ("orders", 4000, 1.0)
        await until(lambda: _healthy(runner), "the health restored once the run ended")
    finally:
        await observer.stop()
        await runner.stop()


async def _has(kinds: Awaitable[list[EventKind]], kind: EventKind) -> bool:
    return kind in await kinds


async def _healthy(orch: Orchestrator) -> bool:
    return all(s.health == HealthState.HEALTHY for s in await orch.services())
