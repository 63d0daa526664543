"""Deterministic states of the console, for screenshots and snapshot tests.

Each scene builds a real store (SQLite file, frozen clock) and a real
orchestrator with stand-in services whose durations, counts and progress are
fixed, then drives it through the public API into a state an operator would
recognise. Nothing on screen depends on the wall clock, the host or the pid.

    python -m console.scenes screenshots/     # writes one SVG per scene
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

from console.app import SyncdeckApp
from console.widgets.event_log import EventLog
from core.config import Settings
from core.models import EventKind, RequestSource, RunCounts, SyncMode
from core.orchestrator import Orchestrator
from core.services.base import RunContext, TransientError
from core.store import SQLiteStore

FROZEN_AT = datetime(2026, 11, 29, 8, 0, tzinfo=UTC).timestamp()
SERVICES = ("orders", "customers", "products", "prices")
TOOK = {"orders": 42.5, "customers": 6.2, "products": 18.9, "prices": 11.4}
ROWS = {"orders": 20_000, "customers": 2_000, "products": 10_000, "prices": 10_000}


class FrozenClock:
    """The store's clock in a scene: it moves only when a scene says so."""

    def __init__(self, now: float = FROZEN_AT) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SceneService:
    """A service whose every run takes a fixed (frozen-clock) time and counts fixed rows."""

    def __init__(self, name: str, clock: FrozenClock) -> None:
        self.name = name
        self.clock = clock
        self.failure: str | None = None
        self.hold = asyncio.Event()
        self.holding = False
        self.runs = 0
        self.took_extra: list[float] = []

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
        changed = fetched if ctx.mode == SyncMode.FULL else fetched // 4
        return RunCounts(fetched=fetched, inserted=changed, unchanged=fetched - changed, updated=0)


@dataclass
class Scene:
    name: str
    description: str
    app: SyncdeckApp
    run_before: Callable[[Pilot[None]], Awaitable[None]]
    press: tuple[str, ...] = ()


def _orchestrator(
    data_dir: Path,
    clock: FrozenClock,
    *,
    runner: bool = True,
    host: str = "ops-console",
    pid: int = 4242,
) -> tuple[Orchestrator, dict[str, SceneService]]:
    services = {name: SceneService(name, clock) for name in SERVICES}
    settings = Settings(
        data_dir=data_dir,
        # A long lease: the frozen clock jumps by whole sync durations between heartbeats.
        orchestrator={
            "retry": {"tries": 1},
            "circuit": {"cooldown_s": 300},
            "lease_ttl_s": 3600,
        },
        schedule={"enabled": True},
    )
    orch = Orchestrator(
        SQLiteStore(data_dir / "syncdeck.db", clock=clock),
        services,
        settings,
        runner=runner,
        schedule=False,
    )
    # Fixed identity, so the pictures do not depend on this machine.
    orch.host, orch.pid, orch.holder_id = host, pid, f"{host}:{pid}"
    return orch, services


async def _sync_all(orch: Orchestrator, clock: FrozenClock) -> None:
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
    await app.redraw()
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


def build_scenes(base: Path) -> list[Scene]:
    """Every scene, each with its own data directory under `base`."""
    scenes: list[Scene] = []

    def make(
        name: str, *, read_only: bool = False
    ) -> tuple[SyncdeckApp, Orchestrator, dict[str, SceneService], FrozenClock]:
        clock = FrozenClock()
        data_dir = base / name
        data_dir.mkdir(parents=True, exist_ok=True)
        orch, services = _orchestrator(data_dir, clock, runner=not read_only)
        app = SyncdeckApp(orch, read_only=read_only, manage_orchestrator=True, live=False)
        return app, orch, services, clock

    app, orch, services, clock = make("idle")

    async def idle(
        pilot: Pilot[None], orch: Orchestrator = orch, clock: FrozenClock = clock
    ) -> None:
        await _until(lambda: _is_runner(orch))
        await _sync_all(orch, clock)
        await _settle(pilot)

    scenes.append(Scene("idle", "Every service synced, nothing queued", app, idle))

    app, orch, services, clock = make("running")

    async def running(
        pilot: Pilot[None],
        orch: Orchestrator = orch,
        clock: FrozenClock = clock,
        services: dict[str, SceneService] = services,
    ) -> None:
        await _until(lambda: _is_runner(orch))
        await _sync_all(orch, clock)
        services["orders"].holding = True
        await orch.request("orders", SyncMode.FULL)
        await _until(lambda: _has_progress(orch))
        clock.advance(23)
        await _settle(pilot)

    scenes.append(Scene("running", "An orders full sync running, with progress", app, running))

    app, orch, services, clock = make("queued")

    async def queued(
        pilot: Pilot[None],
        orch: Orchestrator = orch,
        clock: FrozenClock = clock,
        services: dict[str, SceneService] = services,
    ) -> None:
        await _until(lambda: _is_runner(orch))
        await _sync_all(orch, clock)
        services["orders"].holding = True
        await orch.request("orders", SyncMode.FULL)
        await _until(lambda: _has_progress(orch))
        await orch.request("prices", SyncMode.AUTO, source=RequestSource.SCHEDULE)
        clock.advance(95)
        await orch.request("customers", SyncMode.INCREMENTAL, source=RequestSource.CLI)
        clock.advance(40)
        await orch.request("products", SyncMode.FULL)
        clock.advance(12)
        await _settle(pilot)
        pilot.app.query_one("#queue").focus()
        await pilot.pause()

    scenes.append(Scene("queued", "Several requests queued behind a running sync", app, queued))

    app, orch, services, clock = make("circuit-open")

    async def circuit(
        pilot: Pilot[None],
        orch: Orchestrator = orch,
        clock: FrozenClock = clock,
        services: dict[str, SceneService] = services,
    ) -> None:
        await _until(lambda: _is_runner(orch))
        await _sync_all(orch, clock)
        services["products"].failure = "ERP answered 503 Service Unavailable"
        for _ in range(3):
            request = await orch.request("products", SyncMode.AUTO)
            await orch.wait(request.id)
            clock.advance(30)
        await _settle(pilot)

    scenes.append(
        Scene("circuit-open", "products failed three times: its circuit is open", app, circuit)
    )

    app, orch, services, clock = make("help")
    scenes.append(
        Scene(
            "help",
            "The help screen: every key",
            app,
            idle_for(orch, clock),
            press=("question_mark",),
        )
    )

    app, orch, services, clock = make("history")

    async def history(
        pilot: Pilot[None],
        orch: Orchestrator = orch,
        clock: FrozenClock = clock,
        services: dict[str, SceneService] = services,
    ) -> None:
        await _until(lambda: _is_runner(orch))
        services["orders"].took_extra = [0.0, 14.0, 3.5, 27.0, 8.0, 19.5]  # for the sparkline
        for _ in range(6):
            request = await orch.request("orders", SyncMode.AUTO)
            await orch.wait(request.id)
            clock.advance(300)
        await _settle(pilot)

    scenes.append(Scene("history", "History of orders", app, history, press=("h",)))

    clock = FrozenClock()
    data_dir = base / "read-only"
    data_dir.mkdir(parents=True, exist_ok=True)
    runner, _ = _orchestrator(data_dir, clock, host="sync-daemon", pid=311)
    viewer, _ = _orchestrator(data_dir, clock, runner=False)
    app = SyncdeckApp(viewer, read_only=True, manage_orchestrator=True, live=False)

    async def read_only(
        pilot: Pilot[None], runner: Orchestrator = runner, clock: FrozenClock = clock
    ) -> None:
        await runner.start()
        try:
            await _until(lambda: _is_runner(runner))
            await _sync_all(runner, clock)
        finally:
            await runner.stop()
        # The daemon is still "alive" on the frozen clock: its lease has not expired.
        store = SQLiteStore(data_dir / "syncdeck.db", clock=clock)
        await store.open()
        await store.acquire_lease("sync-daemon:311", "sync-daemon", 311, 3600)
        await store.close()
        app = pilot.app
        assert isinstance(app, SyncdeckApp)

        async def relayed() -> bool:  # the viewer has tailed the log to its last event
            return any(e.kind == EventKind.LEASE_LOST for e in app.pending_events)

        await _until(relayed)
        await _settle(pilot)

    scenes.append(
        Scene("read-only", "A read-only observer while a daemon runs syncs", app, read_only)
    )
    return scenes


def idle_for(orch: Orchestrator, clock: FrozenClock) -> Callable[[Pilot[None]], Awaitable[None]]:
    async def setup(pilot: Pilot[None]) -> None:
        await _until(lambda: _is_runner(orch))
        await _sync_all(orch, clock)
        await _settle(pilot)

    return setup


async def _is_runner(orch: Orchestrator) -> bool:
    return orch.is_runner


async def _has_progress(orch: Orchestrator) -> bool:
    snap = await orch.snapshot()
    return snap.active is not None and snap.active.progress is not None


def write_screenshots(target: Path, size: tuple[int, int] = (100, 30)) -> list[Path]:
    """Run every scene and save its SVG into `target`."""
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
