"""Part (b) of bench/console.py: a real full products sync (demo ERP -> SQLite replica) in
the console's process, in a console built like `syncdeck`'s, while `p` is pressed;
key-to-screen p95 beside its target, rows/s, redraws/s and CPU over the sync for reference
(the method in full: bench/console.py's docstring)."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

from common import p95, until
from costwindow import Window
from keylatency import (
    SYNC_PRESS_GAP_S,
    TARGET_KEY_P95_MS,
    Stages,
    latency_summary,
    press_while,
)
from loopprofile import Profiler
from paintprobe import PaintProbe
from report import PartReport
from terminal import SIZE

from console.tui.app import SyncdeckApp
from core.config import Settings
from core.demo import open_demo_erp
from core.models import SyncMode
from core.runtime import build_orchestrator


async def part_b(
    base: Path, report: PartReport, *, products: int, min_presses: int, profile: bool
) -> None:
    """A full sync of `products` products with presses throughout (at least `min_presses` for
    a verdict); with `profile`, a second sync under cProfile."""
    data_dir = base / "sync"
    data_dir.mkdir()
    settings = Settings.from_values(
        data_dir=data_dir,
        source={"kind": "demo"},
        demo={
            "sizes": {"products": products, "customers": 0, "prices": 0, "orders": 0},
            "changes_per_minute": 0,
        },
        schedule={"enabled": False},
    )
    t0 = time.perf_counter()
    open_demo_erp(settings).close()
    print(
        f"    (setup, not timed: demo ERP with {products:,} products generated in "
        f"{time.perf_counter() - t0:.1f} s)",
        flush=True,
    )
    orch = build_orchestrator(settings, runner=True, schedule=False)
    app = SyncdeckApp(orch, manage_orchestrator=True)
    probe = PaintProbe(app)
    stages = Stages(app, orch)
    rng = random.Random(2)

    async def sync_with_presses(
        stages: Stages | None, window: Window | None
    ) -> tuple[list[float], Any]:
        if (await orch.snapshot()).controls.dispatch_paused:  # left paused by an odd press
            await orch.resume()

            def drawn_resumed() -> bool:  # presses read the state from the app's last frame
                snap = app.main.snapshot
                return snap is not None and not snap.controls.dispatch_paused

            await until(drawn_resumed, 10, "the console to draw dispatch resumed")
        request = await orch.request("products", SyncMode.FULL)
        waiting = asyncio.create_task(orch.wait(request.id))

        async def started() -> bool:
            snap = await orch.snapshot()
            return snap.active is not None or waiting.done()

        await until(started, 60, "the products sync to start")
        if window is not None:
            window.start()
        latencies = await press_while(
            app, probe, rng, lambda n: not waiting.done(), stages, window, SYNC_PRESS_GAP_S
        )
        return latencies, (await waiting).run

    async with app.run_test(size=SIZE) as pilot:
        await until(
            lambda: orch.is_runner and app.main.snapshot is not None, 30, "the runner lease"
        )
        await pilot.pause()
        window = Window(app, probe)
        latencies, run = await sync_with_presses(stages, window)
        window.stop()
        if profile:
            profiler = Profiler(True)
            with profiler:
                await sync_with_presses(None, None)
            profiler.report(
                "a second full sync (replica rows unchanged) with key presses, not in the figures"
            )
    assert run is not None and run.outcome is not None
    took = run.duration or window.wall
    if run.outcome.value != "succeeded" or run.counts.fetched != products:
        raise RuntimeError(f"the sync did not do its work: {run}")
    enough = len(latencies) >= min_presses
    note = "" if enough else f" -- only {len(latencies)} presses fitted in the sync"
    report.add(
        "b",
        f"key-to-screen during a {products:,}-row full sync",
        latency_summary(latencies) + note,
        f"p95 <= {TARGET_KEY_P95_MS:g} ms",
        p95(latencies) * 1000 <= TARGET_KEY_P95_MS and enough,
    )
    print(f"      where it goes: {stages.summary()}", flush=True)
    print(
        f"      (sync {run.outcome.value}: {run.counts.fetched:,} rows in {took:.1f} s = "
        f"{run.counts.fetched / took:,.0f} rows/s; redraws {window.fps:.1f} /s, paints "
        f"{window.paint_rate:.1f} /s; CPU {window.cpu_pct:.0f} % of one core: "
        f"{window.thread_split()})",
        flush=True,
    )
