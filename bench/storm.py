"""Part (a) of bench/console.py, a progress storm: one service reports progress 2,000 times
a second from a worker thread through the real orchestrator into the console, while `p` is
pressed; key-to-screen p95, redraws per second, CPU and RSS growth, each beside its target
(the method in full: bench/console.py's docstring)."""

from __future__ import annotations

import asyncio
import gc
import random
import threading
import time
from pathlib import Path

from common import p95, until
from costwindow import Window, rss_mb
from keylatency import TARGET_KEY_P95_MS, Stages, latency_summary, press_while
from loopprofile import Profiler
from paintprobe import PaintProbe
from report import PartReport
from terminal import SIZE

from console.tui.app import SyncdeckApp
from core.config import Settings
from core.models import RunCounts, SyncMode
from core.orchestrator import Orchestrator
from core.store import DB_FILENAME, SQLiteStore
from core.sync.service import RunContext

STORM_RATE = 2000.0
TARGET_FPS = 10.0
TARGET_CPU_PCT = 50.0
TARGET_RSS_MB = 20.0


class StormService:
    """Reports progress `rate` times a second from a worker thread until `limit` reports,
    then keeps the run open until `release` is set (so the console still shows it)."""

    name = "storm"

    def __init__(self, rate: float, limit: int) -> None:
        self.rate = rate
        self.limit = limit
        self.sent = 0
        self.running = threading.Event()
        self.go = threading.Event()
        self.release = threading.Event()

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        return SyncMode.FULL, "benchmark"

    async def run(self, ctx: RunContext) -> RunCounts:
        await asyncio.to_thread(self._emit, ctx)
        return RunCounts(fetched=self.sent, unchanged=self.sent)

    def _emit(self, ctx: RunContext) -> None:
        threading.current_thread().name = "storm-emitter"
        self.running.set()
        while not self.go.wait(0.05):
            if ctx.cancelled:
                return
        start = time.perf_counter()
        while self.sent < self.limit and not ctx.cancelled:
            due = min(self.limit, int((time.perf_counter() - start) * self.rate) + 1)
            while self.sent < due:
                self.sent += 1
                ctx.report("storm", self.sent, self.limit, rate=self.rate)
            time.sleep(0.002)
        while not ctx.cancelled and not self.release.wait(0.05):
            pass


async def part_a(
    base: Path,
    report: PartReport,
    *,
    window_s: float,
    min_presses: int,
    events: int,
    profile: bool,
) -> None:
    """The progress storm: `window_s` of presses (at least `min_presses`), then reports up to
    `events`; with `profile`, 5 s more under cProfile."""
    data_dir = base / "storm"
    data_dir.mkdir()
    storm = StormService(STORM_RATE, events)
    settings = Settings.from_values(data_dir=data_dir, schedule={"enabled": False})
    orch = Orchestrator(
        SQLiteStore(data_dir / DB_FILENAME), {"storm": storm}, settings, schedule=False
    )
    app = SyncdeckApp(orch, manage_orchestrator=True)
    probe = PaintProbe(app)
    stages = Stages(app, orch)
    rng = random.Random(1)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            lambda: orch.is_runner and app.main.snapshot is not None, 30, "the runner lease"
        )
        await orch.request("storm", SyncMode.FULL)
        await until(storm.running.is_set, 30, "the storm run to start")
        await pilot.pause()
        await asyncio.sleep(0.5)
        rss_before = rss_mb()
        storm.go.set()
        await asyncio.sleep(1.0)  # warm-up: events flowing, redraws at their steady rate

        window = Window(app, probe).start()
        latencies = await press_while(
            app,
            probe,
            rng,
            lambda n: time.perf_counter() - window.t0 < window_s or n < min_presses,
            stages,
            window,
        )
        window.stop()
        gaps = stages.gaps(window.t0, window.t0 + window.wall)
        sent_in_window = storm.sent

        if profile:
            profiler = Profiler(True)
            with profiler:
                end = time.perf_counter() + 5.0
                await press_while(app, probe, rng, lambda n: time.perf_counter() < end)
            profiler.report("5 s more of the storm with key presses (not in the figures)")

        await until(lambda: storm.sent >= storm.limit, 600, "the storm's last report")
        await until(app._subscription._queue.empty, 30, "the console to consume every event")
        frames = app.main.frames
        await until(
            lambda: app.main.frames >= frames + 2, 30, "the console to draw the last report"
        )
        rss_after = rss_mb()
        snap = app.main.snapshot
        shown = snap.active.progress.done if snap and snap.active and snap.active.progress else 0
        dropped = app._subscription.dropped
        gc.collect()
        rss_after_gc = rss_mb()
        storm.release.set()

    report.add(
        "a",
        "key-to-screen during 2,000 events/s",
        latency_summary(latencies),
        f"p95 <= {TARGET_KEY_P95_MS:g} ms",
        p95(latencies) * 1000 <= TARGET_KEY_P95_MS,
    )
    print(f"      where it goes: {stages.summary()}", flush=True)
    report.add(
        "a",
        "redraws per second (app.main.frames)",
        f"{window.fps:.1f} /s (Textual paints {window.paint_rate:.1f} /s)",
        f"<= {TARGET_FPS:g} /s",
        window.fps <= TARGET_FPS,
    )
    print(f"      {gaps}", flush=True)
    report.add(
        "a",
        "CPU, whole process, share of one core",
        f"{window.cpu_pct:.0f} %",
        f"<= {TARGET_CPU_PCT:g} %",
        window.cpu_pct <= TARGET_CPU_PCT,
    )
    print(f"      by thread: {window.thread_split()}", flush=True)
    report.add(
        "a",
        f"RSS growth after {storm.sent:,} events",
        f"{rss_after - rss_before:+.1f} MB ({rss_before:.0f} -> {rss_after:.0f} MB)",
        f"<= {TARGET_RSS_MB:g} MB",
        rss_after - rss_before <= TARGET_RSS_MB,
    )
    print(
        f"      ({rss_after_gc:.0f} MB after gc.collect(); {window.wall:.1f} s window, "
        f"{sent_in_window:,} reports by its end; events the console's subscription dropped: "
        f"{dropped}; progress on screen at the end: {shown:,}/{storm.limit:,})",
        flush=True,
    )
    if shown != storm.limit:
        raise RuntimeError(f"the console shows {shown} of {storm.limit} reports at the end")
