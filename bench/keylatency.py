"""Key-to-screen latency of the console, headless (parts a and b of bench/console.py, whose
docstring defines the method): `press_p` times one press of `p` from the key reaching the
app to the paint showing the new dispatch state (`paintprobe`), and `Stages` splits that
time into where it goes."""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from common import ms, p95
from paintprobe import PaintProbe
from textual import events

from console.tui.app import SyncdeckApp
from core.orchestrator import Orchestrator

if TYPE_CHECKING:
    from costwindow import Window

TARGET_KEY_P95_MS = 50.0
PRESS_GAP_S = (0.10, 0.25)
SYNC_PRESS_GAP_S = (0.05, 0.15)
"""During part (b)'s sync, which takes about 5 s since the engine got faster: at least 30
presses still fit, and they still land at random phases of the 100 ms redraw timer."""
PRESS_TIMEOUT_S = 10.0


async def press_p(app: SyncdeckApp, probe: PaintProbe, stages: Stages | None) -> float:
    """One press of `p`; seconds from the key reaching the app to the paint showing it."""
    snap = app.main.snapshot
    assert snap is not None
    marker = "dispatch on" if snap.controls.dispatch_paused else "dispatch PAUSED"
    waiter = probe.expect(marker)
    key = events.Key("p", "p")
    key.set_sender(app)
    driver = app._driver
    assert driver is not None
    t0 = time.perf_counter()
    driver.send_message(key)
    try:
        await asyncio.wait_for(waiter.event.wait(), PRESS_TIMEOUT_S)
    except TimeoutError:
        raise RuntimeError(f"no paint showed {marker!r} {PRESS_TIMEOUT_S:g}s after p") from None
    if stages is not None:
        stages.attribute(t0, waiter.at)
    return waiter.at - t0


async def press_while(
    app: SyncdeckApp,
    probe: PaintProbe,
    rng: random.Random,
    keep_going: Callable[[int], bool],
    stages: Stages | None = None,
    window: Window | None = None,
    gap_s: tuple[float, float] = PRESS_GAP_S,
) -> list[float]:
    """Press p (and time it) while `keep_going(presses so far)`, `gap_s` apart at random."""
    latencies: list[float] = []
    while keep_going(len(latencies)):
        latencies.append(await press_p(app, probe, stages))
        if window is not None:
            window.sample()
        await asyncio.sleep(rng.uniform(*gap_s))
    return latencies


class Stages:
    """Where a press's time goes: key -> the core call returned (`orchestrator.pause()` or
    `resume()`) -> the first console redraw that starts after it (the wait is the redraw
    rate limit) -> that redraw done -> the paint showing it. Also every redraw's start, to
    check the rate limit."""

    def __init__(self, app: SyncdeckApp, orch: Orchestrator) -> None:
        self.core_done: list[float] = []
        self.redraws: list[tuple[float, float]] = []
        self.rows: list[tuple[float, float, float, float]] = []
        for name in ("pause", "resume"):
            original = getattr(orch, name)

            async def call(original: Callable[[], Awaitable[None]] = original) -> None:
                await original()
                self.core_done.append(time.perf_counter())

            setattr(orch, name, call)
        main, limiter = app.main, app.main.limiter
        draw = limiter._draw  # every frame, whoever asked for it, is drawn here

        async def timed_draw() -> None:
            started, before = time.perf_counter(), main.frames
            await draw()
            if main.frames > before:
                self.redraws.append((started, time.perf_counter()))

        limiter._draw = timed_draw

    def attribute(self, t0: float, t1: float) -> None:
        core = next((t for t in self.core_done if t >= t0), None)
        frame = None if core is None else next((f for f in self.redraws if f[0] >= core), None)
        if core is None or frame is None or frame[1] > t1:
            return  # drawn by a redraw already under way: not attributable
        self.rows.append((core - t0, frame[0] - core, frame[1] - frame[0], t1 - frame[1]))

    def summary(self) -> str:
        if not self.rows:
            return "no press attributable"
        names = ("key->core", "wait for redraw slot", "redraw", "redraw->paint")
        parts = []
        for i, name in enumerate(names):
            values = [row[i] for row in self.rows]
            parts.append(f"{name} {ms(statistics.median(values))}/{ms(p95(values))}")
        return f"median/p95 over {len(self.rows)} presses: " + ", ".join(parts)

    def gaps(self, since: float, end: float) -> str:
        starts = [f[0] for f in self.redraws if since <= f[0] <= end]
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        if not gaps:
            return "no redraws"
        short = sum(1 for g in gaps if g < 0.099)
        return (
            f"{len(starts)} redraws, gap between redraw starts: min {ms(min(gaps))}, "
            f"median {ms(statistics.median(gaps))}; {short} gaps under 100 ms"
        )


def latency_summary(values: list[float]) -> str:
    return (
        f"p95 {1000 * p95(values):.1f} ms (n={len(values)}, median "
        f"{ms(statistics.median(values))}, max {ms(max(values))})"
    )
