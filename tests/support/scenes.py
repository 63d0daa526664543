"""Deterministic states of the console, for screenshots and snapshot tests.

Test and tool support, not part of the product: `make screenshots` and
`tests/test_console_snapshots.py` use it; nothing under `console/` or `core/`
imports it.

Each scene builds a real store (SQLite file, frozen clock) and a real
orchestrator with stand-in services whose durations, counts and progress are
fixed, then drives it through the public API into a state an operator would
recognise. Nothing on screen depends on the wall clock, the host or the pid.
A scene that does not reach its state within five seconds raises TimeoutError.

    PYTHONPATH=tests python -m support.scenes screenshots/   # writes one SVG per scene
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from textual.pilot import Pilot

from console.tui.app import SyncdeckApp
from console.tui.widgets.event_log import EventLog
from core.config import (
    CircuitSettings,
    OrchestratorSettings,
    RetrySettings,
    ScheduleSettings,
    Settings,
)
from core.errors import TransientError
from core.models import EventKind, RequestSource, RunCounts, SyncMode
from core.orchestrator import Orchestrator
from core.orchestrator.identity import Identity
from core.store import SQLiteStore
from core.sync.service import RunContext
from support.clock import ManualClock

FROZEN_AT = datetime(2026, 11, 29, 8, 0, tzinfo=UTC).timestamp()
SERVICES = ("orders", "customers", "products", "prices")
TOOK = {"orders": 42.5, "customers": 6.2, "products": 18.9, "prices": 11.4}
ROWS = {"orders": 20_000, "customers": 2_000, "products": 10_000, "prices": 10_000}


class SceneService:
    """A service whose every run takes a fixed (frozen-clock) time and counts fixed rows."""

    def __init__(self, name: str, clock: ManualClock) -> None:
        self.name = name
        self.clock = clock
        self.failure: str | None = None
        self.hold = asyncio.Event()
        self.holding = False
        self.runs = 0
        self.took_extra: list[float] = []
        self.rejected = 0
        """Records each run quarantines (they count as fetched, not written)."""

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        if requested != SyncMode.AUTO:
            return requested, f"{requested.value} requested"
        if self.runs == 0:
            return SyncMode.FULL, "no cursor yet"
        return SyncMode.INCREMENTAL, "cursor 2026-11-29T07:30:00Z"

    async def run(self, ctx: RunContext) -> RunCounts:
        self.runs += 1
        total = ROWS[self.name]
        if self.holding:
            ctx.report("fetching", total * 3 // 5, total, rate=1_850.0)
            await self.hold.wait()
        self.clock.advance(TOOK[self.name] + (self.took_extra.pop(0) if self.took_extra else 0))
        if self.failure:
            raise TransientError(self.failure)
        fetched = total if ctx.mode == SyncMode.FULL else total // 100
        changed = (fetched if ctx.mode == SyncMode.FULL else fetched // 4) - self.rejected
        return RunCounts(
            fetched=fetched,
            inserted=changed,
            unchanged=fetched - changed - self.rejected,
            updated=0,
            rejected=self.rejected,
        )


@dataclass
class Scene:
    name: str
    description: str
    app: SyncdeckApp
    run_before: Callable[[Pilot[None]], Awaitable[None]]
    press: tuple[str, ...] = ()


def _orchestrator(
    data_dir: Path,
    clock: ManualClock,
    *,
    runner: bool = True,
    host: str = "ops-console",
    pid: int = 4242,
) -> tuple[Orchestrator, dict[str, SceneService]]:
    services = {name: SceneService(name, clock) for name in SERVICES}
    settings = Settings(
        data_dir=data_dir,
        # A long lease and stall rule: the frozen clock jumps by whole sync durations between
        # heartbeats and progress reports.
        orchestrator=OrchestratorSettings(
            retry=RetrySettings(tries=1),
            circuit=CircuitSettings(cooldown_s=300),
            lease_ttl_s=3600,
            stall_s=3600,
        ),
        schedule=ScheduleSettings(enabled=True),
    )
    orch = Orchestrator(
        SQLiteStore(data_dir / "syncdeck.db", clock=clock),
        services,
        settings,
        runner=runner,
        schedule=False,
        identity=Identity(host, pid, f"{host}:{pid}"),  # the pictures: the same on any machine
    )
    return orch, services


async def _sync_all(orch: Orchestrator, clock: ManualClock) -> None:
    for name in SERVICES:
        request = await orch.request(name, SyncMode.AUTO, source=RequestSource.SCHEDULE)
        await orch.wait(request.id)
        clock.advance(60)


async def _until(condition: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(500):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("scene did not reach its state")


async def _settle(pilot: Pilot[None]) -> None:
    """Draw the scene's one frame (scene apps are not live: nothing was drawn before)."""
    app = pilot.app
    assert isinstance(app, SyncdeckApp)
    await app.main.limiter.redraw()

    async def backlog() -> bool:  # the first frame loads the store's newest events
        return app.main.backlog_loaded

    await _until(backlog)
    await pilot.pause()
    await app.main.limiter.redraw()  # with every event the scene caused, however late it arrived
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    log = app.query_one(EventLog)

    async def at_end() -> bool:  # every line rendered, and the newest one in view
        await pilot.pause()
        if len(log.lines) == len(log.lines_kept):
            log.scroll_end(animate=False, immediate=True)
            await pilot.pause()
            return bool(log.scroll_y == log.max_scroll_y)
        return False

    await _until(at_end)
    await pilot.pause()


@dataclass
class World:
    """One scene's own store, orchestrator, services and frozen clock."""

    data_dir: Path
    app: SyncdeckApp
    orch: Orchestrator
    services: dict[str, SceneService]
    clock: ManualClock

    async def synced(self) -> None:
        """The runner holds the lease and every service has synced once."""
        await _until(lambda: _is_runner(self.orch))
        await _sync_all(self.orch, self.clock)

    async def orders_running(self) -> None:
        """An orders auto sync (incremental, with its reason) in progress, held at 60 %."""
        self.services["orders"].holding = True
        await self.orch.request("orders", SyncMode.AUTO)
        await _until(lambda: _has_progress(self.orch))


def _world(base: Path, name: str, *, read_only: bool = False) -> World:
    clock = ManualClock(FROZEN_AT)
    data_dir = base / name
    data_dir.mkdir(parents=True, exist_ok=True)
    orch, services = _orchestrator(data_dir, clock, runner=not read_only)
    app = SyncdeckApp(orch, read_only=read_only, manage_orchestrator=True, live=False)
    return World(data_dir, app, orch, services, clock)


async def _idle(w: World) -> None:
    await w.synced()


async def _running(w: World) -> None:
    await w.synced()
    await w.orders_running()
    w.clock.advance(23)


async def _queued(w: World) -> None:
    await w.synced()
    await w.orders_running()
    await w.orch.request("prices", SyncMode.AUTO, source=RequestSource.SCHEDULE)
    w.clock.advance(95)
    await w.orch.request("customers", SyncMode.INCREMENTAL, source=RequestSource.CLI)
    w.clock.advance(40)
    await w.orch.request("products", SyncMode.FULL)
    w.clock.advance(12)


async def _circuit_open(w: World) -> None:
    """products failed three times: its circuit is open, and the schedule queued it again."""
    await w.synced()
    w.services["products"].failure = "ERP answered 503 Service Unavailable"
    for _ in range(3):
        request = await w.orch.request("products", SyncMode.AUTO)
        await w.orch.wait(request.id)
        w.clock.advance(30)
    await w.orch.request("products", SyncMode.AUTO, source=RequestSource.SCHEDULE)
    await w.orch.request("products", SyncMode.FULL)  # an operator's key upgrades it


async def _paused(w: World) -> None:
    await w.synced()
    await w.orch.pause()
    await w.orch.request("orders", SyncMode.AUTO, source=RequestSource.SCHEDULE)
    w.clock.advance(20)
    await w.orch.request("prices", SyncMode.FULL)
    w.clock.advance(5)


async def _no_runner(w: World) -> None:
    """A daemon synced everything and stopped (its lease released); this read-only
    console sees two requests wait with no runner alive."""
    runner, _ = _orchestrator(w.data_dir, w.clock, host="sync-daemon", pid=311)
    await runner.start()
    try:
        await _until(lambda: _is_runner(runner))
        await _sync_all(runner, w.clock)
    finally:
        await runner.stop()
    await w.orch.request("orders", SyncMode.AUTO, source=RequestSource.CLI)
    w.clock.advance(40)
    await w.orch.request("customers", SyncMode.FULL, source=RequestSource.CLI)
    w.clock.advance(15)
    log = w.app.query_one(EventLog)

    async def relayed() -> bool:
        await w.app.main.limiter.redraw()
        return sum(" request.queued " in line for line in log.lines_kept) >= 6

    await _until(relayed)


async def _retry_storm(w: World) -> None:
    """Every service fails, products three times (its circuit opens): seven toasts'
    worth of news, at most two on screen."""
    await w.synced()
    for name in SERVICES:
        w.services[name].failure = f"ERP answered 503 for {name}"
    for name in (*SERVICES, "products", "products"):
        request = await w.orch.request(name, SyncMode.AUTO)
        await w.orch.wait(request.id)
        w.clock.advance(10)
    rack = w.app.toasts

    async def bounded() -> bool:
        return len(rack.visible) == 2 and rack.more == 6

    await _until(bounded)


async def _history_detail(w: World) -> None:
    """The detail of orders' last run, which failed (Enter on it in the history)."""
    await _history(w)
    w.services["orders"].failure = (
        "ERP answered 502 Bad Gateway on GET /api/orders?page=14 after 3 connection resets; "
        "the load balancer reported every backend down"
    )
    request = await w.orch.request("orders", SyncMode.AUTO)
    await w.orch.wait(request.id)
    await w.app.main.show_history("orders")
    from console.tui.screens.history import HistoryScreen

    screen = w.app.screen
    assert isinstance(screen, HistoryScreen)

    async def filled() -> bool:
        return bool(screen.query("#runs")) and screen.table.row_count == 7

    await _until(filled)
    screen.open_selected()


async def _quarantined(w: World) -> None:
    """customers' last run quarantined 106 invalid records: a warning, not a success."""
    await w.synced()
    w.services["customers"].rejected = 106
    request = await w.orch.request("customers", SyncMode.FULL)
    await w.orch.wait(request.id)


async def _history(w: World) -> None:
    await _until(lambda: _is_runner(w.orch))
    w.services["orders"].took_extra = [0.0, 14.0, 3.5, 27.0, 8.0, 19.5]  # for the sparkline
    for _ in range(6):
        request = await w.orch.request("orders", SyncMode.AUTO)
        await w.orch.wait(request.id)
        w.clock.advance(300)


async def _read_only(w: World) -> None:
    """A daemon (another orchestrator on the same file) synced everything and still holds
    the lease on the frozen clock; this console only watches."""
    runner, _ = _orchestrator(w.data_dir, w.clock, host="sync-daemon", pid=311)
    await runner.start()
    try:
        await _until(lambda: _is_runner(runner))
        await _sync_all(runner, w.clock)
    finally:
        await runner.stop()
    store = SQLiteStore(w.data_dir / "syncdeck.db", clock=w.clock)
    await store.open()
    await store.acquire_lease("sync-daemon:311", "sync-daemon", 311, 3600)
    await store.close()

    log = w.app.query_one(EventLog)

    async def relayed() -> bool:  # the viewer has tailed the log to its last event
        # a frame logs what the viewer received since the last one:
        await w.app.main.limiter.redraw()
        return any(f" {EventKind.LEASE_LOST.value}" in line for line in log.lines_kept)

    await _until(relayed)


@dataclass(frozen=True)
class SceneSpec:
    description: str
    setup: Callable[[World], Awaitable[None]]
    press: tuple[str, ...] = ()
    focus: str | None = None
    """A pane to focus before the picture (its selection shows)."""


SCENES: dict[str, SceneSpec] = {
    "idle": SceneSpec("Every service synced, nothing queued", _idle),
    "running": SceneSpec("An orders auto sync running, with its reason and progress", _running),
    "queued": SceneSpec("Several requests queued behind a running sync", _queued, focus="#queue"),
    "circuit-open": SceneSpec(
        "products failed three times: its circuit is open until its cooldown ends",
        _circuit_open,
        focus="#queue",
    ),
    "paused": SceneSpec("Dispatch paused with requests queued", _paused),
    "no-runner": SceneSpec("No runner alive with requests queued", _no_runner),
    "retry-storm": SceneSpec("Every service failing: toasts bounded to two", _retry_storm),
    "history-detail": SceneSpec("The detail of a failed run (Enter in history)", _history_detail),
    "quarantined": SceneSpec("A run that quarantined records: a warning", _quarantined),
    "help": SceneSpec("The help screen: every key", _idle, press=("question_mark",)),
    "history": SceneSpec("History of orders", _history, press=("h",)),
    "read-only": SceneSpec("A read-only observer while a daemon runs syncs", _read_only),
}


def build_scenes(base: Path) -> list[Scene]:
    """Every scene, each with its own data directory under `base`."""
    scenes = []
    for name, spec in SCENES.items():
        world = _world(base, name, read_only=name in ("read-only", "no-runner"))
        run_before = _run_before(world, spec)
        scenes.append(Scene(name, spec.description, world.app, run_before, spec.press))
    return scenes


def _run_before(world: World, spec: SceneSpec) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def run_before(pilot: Pilot[None]) -> None:
        await spec.setup(world)
        if spec.focus is not None:
            world.app.query_one(spec.focus).focus()
        await _settle(pilot)

    return run_before


async def _is_runner(orch: Orchestrator) -> bool:
    return orch.is_runner


async def _has_progress(orch: Orchestrator) -> bool:
    snap = await orch.snapshot()
    return snap.active is not None and snap.active.progress is not None


SCREENSHOT_SIZES = {"": (100, 30), "80x24": (80, 24), "60x20": (60, 20)}
"""Subdirectory of the screenshots directory -> terminal size: the pictures the README
shows, the same scenes at 80x24 (what an operator's SSH terminal often is) and at 60x20
(the compact layout)."""


def write_screenshots(target: Path) -> list[Path]:
    """Run every scene at every size and save its SVGs under `target`."""
    written = []
    for sub, size in SCREENSHOT_SIZES.items():
        written += _write_screenshots(target / sub if sub else target, size)
    return written


def _write_screenshots(target: Path, size: tuple[int, int]) -> list[Path]:
    from textual._doc import take_svg_screenshot

    os.environ["TZ"] = "UTC"
    time.tzset()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for scene in build_scenes(Path(tmp)):
            svg = take_svg_screenshot(
                app=scene.app,
                press=scene.press,
                terminal_size=size,
                run_before=scene.run_before,
            )
            path = target / f"{scene.name}.svg"
            path.write_text(svg, encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_screenshots(
        Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    ):
        print(written_path)
