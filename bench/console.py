"""Console benchmark: responsiveness and cost of the operations console under load,
and its start-up, each beside its target.

Run from the repository root:

    .venv/bin/python bench/console.py             # full run (about three minutes)
    .venv/bin/python bench/console.py --quick     # shorter windows, fewer samples
    .venv/bin/python bench/console.py --profile   # also: cProfile of the event loop thread
    .venv/bin/python bench/console.py --part c    # only part (c); repeatable

Parts (a) and (b) run the real `SyncdeckApp` over a real `Orchestrator` on a real SQLite
store (a fresh temporary directory), in this process, headless (`App.run_test`, 100x30
cells). Part (c) starts real processes in a pseudo-terminal.

Key-to-screen latency (parts a and b), defined precisely:

  - A Textual app in a real terminal turns every screen update into a terminal byte
    string on the event loop (`App._display`: `CompositorUpdate.render_segments`) and
    hands it to a writer thread. Headless, Textual skips that string; this benchmark
    puts it back (`PaintProbe`): every update is rendered to the byte string a
    256-colour terminal (TERM=xterm-256color) would receive. A *paint* is one such
    update, complete once its string is built.
  - t0: the instant the key event is handed to the app the way the terminal driver
    hands it over (`driver.send_message(events.Key("p", "p"))`, as Textual's input
    thread does for a key read from the terminal).
  - t1: the end of the first paint after t0 whose byte string, with escape sequences
    removed, contains the header's new dispatch state: "dispatch PAUSED" after a press
    that pauses, "dispatch on" after one that resumes. `p` toggles dispatching through
    the real orchestrator (a store transaction), the console redraws from
    `orchestrator.snapshot()` (rate-limited to ten redraws a second) and Textual paints;
    all of that is inside t1 - t0.
  - Each press waits for the previous one's paint, then for a random 100-250 ms, so
    presses land at random phases of the redraw timer. p95 (nearest rank) over all
    presses (at least 30; --quick: at least 15). Target: p95 <= 50 ms (issue 12).
  - Printed under it, where the time goes (median/p95 of each stage, over the presses
    whose paint came from a redraw that started after the core call): key -> the core
    call returned (`orchestrator.pause()`/`resume()`, timed by a wrapper) -> the start
    of the first console redraw after it (the redraw rate limit) -> that redraw done ->
    the paint.

(a) Progress storm. One service ("storm") whose run calls `ctx.report` 2,000 times a
    second, from a worker thread (the path `RunContext` documents for bulk work: each
    report reaches the loop through `call_soon_threadsafe`), through the real
    orchestrator (`_on_progress`: a RUN_PROGRESS event on the bus for every report, a
    stored event every second) into the console's subscription. After a 1 s warm-up, a
    10 s window (--quick: 4 s; longer if the presses need it) measures, with key presses
    going on throughout:
      - key-to-screen p95 (above);
      - redraws per second: `app.frames` (console redraws from a snapshot) over the
        window; Textual paints per second are printed beside it, and under it the gaps
        between the starts of successive redraws (the rate limit allows none under
        100 ms). Target <= 10 /s;
      - CPU: `time.process_time()` (this whole process, every thread: the console, the
        orchestrator, the store's thread and the emitting thread) / wall time, as a share
        of one core, with a per-thread split from /proc/self/task. Target <= 50 %;
      - dropped events: events the console's subscription discarded because it fell
        behind (informational; should be 0).
    The storm then goes on at the same rate until 100,000 reports (--quick: 20,000)
    have been made and consumed; RSS (current, /proc/self/statm) just before the first
    report and after the last one (once the console has drawn it) gives the growth.
    Target <= 20 MB.

(b) A real sync in the console's process: the demo ERP is generated with 1,000,000
    products (--quick: 500,000; no other entities, no background changes; generation
    is timed and excluded), then a full products sync (the real `EntitySyncService`,
    demo ERP -> SQLite replica) is requested in a console built like `syncdeck`'s
    (`build_orchestrator`, the configured services). Key presses run from the moment the
    run starts until it ends; key-to-screen p95 as above. Target <= 50 ms. Rows/s,
    redraws/s and CPU over the sync are printed for reference.

(c) Time to first full paint, `syncdeck` beside a Textual hello-world app, measured the
    same way for both: the program is started (fork/exec, interpreter start-up and
    imports included) in a pseudo-terminal of 100x30 cells (TERM=xterm-256color), and
    the time runs from just before the spawn to the moment the terminal has received a
    screen showing every marker: for syncdeck (the real command, `python -m console`,
    no subcommand, a data directory initialised by an untimed first run, schedule off)
    the header ("runner:"), all four service rows and the footer ("palette"); for hello
    world, "Hello, world". Each program is then told to quit (q / ctrl+q). Runs
    alternate between the two; one untimed warm-up run each; median of 15 (--quick: 5).
    Beside it, the CPU time each program had used when its screen was complete (user +
    system, every thread, from /proc/PID/stat in clock ticks of 10 ms, so averaged over
    the runs): on a shared machine the wall time carries the others' load, the CPU time
    much less of it.
    Bytecode is cached as on an installed system (PYTHONPYCACHEPREFIX in the temporary
    directory, filled by the warm-up runs; PYTHONDONTWRITEBYTECODE removed for the
    children). Target: syncdeck <= 1.3x hello world (issue 12).

The load average is printed at the start and after each part: the figures are only as
quiet as the machine was.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import fcntl
import gc
import io
import itertools
import math
import os
import platform
import pstats
import random
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The terminal a real console would draw to: Textual picks its colour system from these.
os.environ["TERM"] = "xterm-256color"
os.environ.pop("COLORTERM", None)
os.environ.pop("NO_COLOR", None)

REPO = Path(__file__).resolve().parent.parent
# First, even when PYTHONPATH names it too: this script's folder (sys.path[0]) holds a
# console.py that would hide the console package.
if sys.path[:1] != [str(REPO)]:
    sys.path.insert(0, str(REPO))

import textual  # noqa: E402
from textual import events  # noqa: E402
from textual._compositor import CompositorUpdate  # noqa: E402

from console.app import SyncdeckApp  # noqa: E402
from core.config import Settings  # noqa: E402
from core.demo import open_demo_erp  # noqa: E402
from core.models import RunCounts, SyncMode  # noqa: E402
from core.orchestrator import Orchestrator  # noqa: E402
from core.runtime import build_orchestrator  # noqa: E402
from core.store import DB_FILENAME, SQLiteStore  # noqa: E402
from core.sync.service import RunContext  # noqa: E402

SYNCDECK = [sys.executable, "-m", "console"]
SIZE = (100, 30)

TARGET_KEY_P95_MS = 50.0
TARGET_FPS = 10.0
TARGET_CPU_PCT = 50.0
TARGET_RSS_MB = 20.0
TARGET_PAINT_RATIO = 1.3

STORM_RATE = 2000.0
PRESS_GAP_S = (0.10, 0.25)
PRESS_TIMEOUT_S = 10.0

HELLO = """\
from textual.app import App
from textual.widgets import Static


class Hello(App):
    def compose(self):
        yield Static("Hello, world")


Hello().run()
"""


@dataclass
class Profile:
    window_s: float
    min_presses: int
    storm_events: int
    products: int
    paint_runs: int


FULL = Profile(10.0, 30, 100_000, 1_000_000, 15)
QUICK = Profile(4.0, 15, 20_000, 500_000, 5)


# -- measuring ------------------------------------------------------------------------

ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z]|.)")


def plain(terminal_bytes: str) -> str:
    return ANSI.sub("", terminal_bytes)


@dataclass
class _Waiter:
    marker: str
    event: asyncio.Event = field(default_factory=asyncio.Event)
    at: float = 0.0


class PaintProbe:
    """Puts back, in a headless app, the terminal string Textual builds for every paint,
    counts paints, and tells waiters when a paint shows their marker."""

    def __init__(self, app: SyncdeckApp) -> None:
        self.app = app
        self.paints = 0
        self.first_paint_at: float | None = None
        self._waiters: list[_Waiter] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None or app._batch_count:
                return
            console = app.console
            if isinstance(renderable, CompositorUpdate):
                sequence = renderable.render_segments(console)
            else:
                sequence = console._render_buffer(console.render(renderable))
            self.paints += 1
            now = time.perf_counter()
            if self.first_paint_at is None:
                self.first_paint_at = now
            if self._waiters:
                text = plain(sequence)
                for waiter in [w for w in self._waiters if w.marker in text]:
                    waiter.at = now
                    waiter.event.set()
                    self._waiters.remove(waiter)

        app._display = display  # type: ignore[method-assign]

    def expect(self, marker: str) -> _Waiter:
        waiter = _Waiter(marker)
        self._waiters.append(waiter)
        return waiter


async def press_p(app: SyncdeckApp, probe: PaintProbe, stages: Stages | None) -> float:
    """One press of `p`; seconds from the key reaching the app to the paint showing it."""
    snap = app.snapshot
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
) -> list[float]:
    """Press p (and time it) while `keep_going(presses so far)`."""
    latencies: list[float] = []
    while keep_going(len(latencies)):
        latencies.append(await press_p(app, probe, stages))
        if window is not None:
            window.sample()
        await asyncio.sleep(rng.uniform(*PRESS_GAP_S))
    return latencies


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each live thread of this process: {tid: (name, seconds)}."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[str, float]] = {}
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            stat = (task / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            tid = int(task.name)
            name = re.sub(r"_\d+$", "", names.get(tid, f"thread {tid}"))
            out[tid] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return out


@dataclass
class Window:
    """Wall, process CPU, redraws and paints over a stretch of time; per-thread CPU from
    samples (`sample()`), so threads that end inside the window still count."""

    app: SyncdeckApp
    probe: PaintProbe
    t0: float = 0.0
    cpu0: float = 0.0
    frames0: int = 0
    paints0: int = 0
    threads0: dict[int, tuple[str, float]] = field(default_factory=dict)
    seen: dict[int, tuple[str, float]] = field(default_factory=dict)
    wall: float = 0.0
    cpu: float = 0.0
    frames: int = 0
    paints: int = 0

    def start(self) -> Window:
        self.t0, self.cpu0 = time.perf_counter(), time.process_time()
        self.frames0, self.paints0 = self.app.frames, self.probe.paints
        self.threads0 = thread_cpu()
        self.seen = dict(self.threads0)
        return self

    def sample(self) -> None:
        self.seen.update(thread_cpu())

    def stop(self) -> Window:
        self.sample()
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.cpu0
        self.frames = self.app.frames - self.frames0
        self.paints = self.probe.paints - self.paints0
        return self

    @property
    def fps(self) -> float:
        return self.frames / self.wall

    @property
    def paint_rate(self) -> float:
        return self.paints / self.wall

    @property
    def cpu_pct(self) -> float:
        return 100 * self.cpu / self.wall

    def thread_split(self) -> str:
        by_name: dict[str, float] = {}
        for tid, (name, seconds) in self.seen.items():
            before = self.threads0.get(tid, (name, 0.0))[1]
            by_name[name] = by_name.get(name, 0.0) + seconds - before
        busy = sorted(by_name.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{name} {100 * s / self.wall:.0f}%" for name, s in busy if s > 0)


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
        draw = app._draw  # every frame, whoever asked for it, is drawn here

        async def timed_draw() -> None:
            started, before = time.perf_counter(), app.frames
            await draw()
            if app.frames > before:
                self.redraws.append((started, time.perf_counter()))

        app._draw = timed_draw  # type: ignore[method-assign]

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


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Profiler:
    """cProfile of the event loop thread over a stretch of time (--profile)."""

    def __init__(self, enabled: bool) -> None:
        self.profile = cProfile.Profile() if enabled else None

    def __enter__(self) -> Profiler:
        if self.profile is not None:
            self.profile.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.profile is not None:
            self.profile.disable()

    def report(self, title: str, lines: int = 25) -> None:
        if self.profile is None:
            return
        for order in ("tottime", "cumulative"):
            text = io.StringIO()
            pstats.Stats(self.profile, stream=text).sort_stats(order).print_stats(lines)
            body = text.getvalue()
            body = body[body.find("   ncalls") :]
            print(f"\n    cProfile, event loop thread, {title}, by {order}:\n{body}", flush=True)


# -- results --------------------------------------------------------------------------


@dataclass
class Row:
    part: str
    metric: str
    value: str
    target: str
    ok: bool | None

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "FAIL")


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(
        self, part: str, metric: str, value: str, target: str = "", ok: bool | None = None
    ) -> None:
        row = Row(part, metric, value, target, ok)
        self.rows.append(row)
        verdict = f"   {row.verdict}" if row.verdict else ""
        target_text = f"   target {target}" if target else ""
        print(f"    {metric}: {value}{target_text}{verdict}", flush=True)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f} ms"


def latency_summary(values: list[float]) -> str:
    return (
        f"p95 {1000 * p95(values):.1f} ms (n={len(values)}, median "
        f"{ms(statistics.median(values))}, max {ms(max(values))})"
    )


# -- (a) progress storm ---------------------------------------------------------------


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


async def part_a(base: Path, prof: Profile, report: Report, profile: bool) -> None:
    data_dir = base / "storm"
    data_dir.mkdir()
    storm = StormService(STORM_RATE, prof.storm_events)
    settings = Settings.from_values(data_dir=data_dir, schedule={"enabled": False})
    orch = Orchestrator(
        SQLiteStore(data_dir / DB_FILENAME), {"storm": storm}, settings, schedule=False
    )
    app = SyncdeckApp(orch, manage_orchestrator=True)
    probe = PaintProbe(app)
    stages = Stages(app, orch)
    rng = random.Random(1)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: orch.is_runner and app.snapshot is not None, 30, "the runner lease")
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
            lambda n: time.perf_counter() - window.t0 < prof.window_s or n < prof.min_presses,
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
        frames = app.frames
        await until(lambda: app.frames >= frames + 2, 30, "the console to draw the last report")
        rss_after = rss_mb()
        snap = app.snapshot
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
        "redraws per second (app.frames)",
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


# -- (b) a real sync in the console's process ----------------------------------------


async def part_b(base: Path, prof: Profile, report: Report, profile: bool) -> None:
    data_dir = base / "sync"
    data_dir.mkdir()
    settings = Settings.from_values(
        data_dir=data_dir,
        source={"kind": "demo"},
        demo={
            "sizes": {"products": prof.products, "customers": 0, "prices": 0, "orders": 0},
            "changes_per_minute": 0,
        },
        schedule={"enabled": False},
    )
    t0 = time.perf_counter()
    open_demo_erp(settings).close()
    print(
        f"    (setup, not timed: demo ERP with {prof.products:,} products generated in "
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
                snap = app.snapshot
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
        latencies = await press_while(app, probe, rng, lambda n: not waiting.done(), stages, window)
        return latencies, (await waiting).run

    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: orch.is_runner and app.snapshot is not None, 30, "the runner lease")
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
    if run.outcome.value != "succeeded" or run.counts.fetched != prof.products:
        raise RuntimeError(f"the sync did not do its work: {run}")
    enough = len(latencies) >= prof.min_presses
    note = "" if enough else f" -- only {len(latencies)} presses fitted in the sync"
    report.add(
        "b",
        f"key-to-screen during a {prof.products:,}-row full sync",
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


# -- (c) time to first full paint ----------------------------------------------------


@dataclass
class Paint:
    wall: float
    """Seconds from the spawn to the screen showing every marker."""
    cpu: float
    """CPU seconds the program had used by then (clock-tick resolution)."""


def cpu_seconds(pid: int) -> float:
    """User + system time of process `pid` so far, every thread (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_paint(
    command: list[str], env: dict[str, str], markers: list[str], quit_key: bytes
) -> Paint:
    """The time from spawning `command` in a 100x30 pty to the screen showing every marker,
    and the CPU time the program had used by then."""
    master, slave = os.openpty()
    cols, rows = SIZE
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    received = b""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        command,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    os.close(slave)
    painted: float | None = None
    cpu = 0.0
    try:
        deadline = t0 + 60
        while painted is None and time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                received += os.read(master, 1 << 16)
            except OSError:
                break
            text = plain(received.decode("utf-8", "replace"))
            if all(marker in text for marker in markers):
                painted = time.perf_counter()
                with contextlib.suppress(OSError):
                    cpu = cpu_seconds(proc.pid)
        os.write(master, quit_key)
        end = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < end:  # drain, so it can exit
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                with contextlib.suppress(OSError):
                    os.read(master, 1 << 16)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    if painted is None:
        tail = plain(received.decode("utf-8", "replace"))[-2000:]
        raise RuntimeError(f"{command} did not paint {markers} (exit {proc.returncode}):\n{tail}")
    return Paint(painted - t0, cpu)


def part_c(base: Path, prof: Profile, report: Report) -> None:
    data_dir = base / "paint"
    data_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCDECK_", "TEXTUAL"))}
    # Bytecode is cached as on an installed system, in a directory of its own (the warm-up
    # runs fill it), even where the environment says not to write it.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        TERM="xterm-256color",
        PYTHONPYCACHEPREFIX=str(base / "pycache"),
        SYNCDECK_DATA_DIR=str(data_dir),
        SYNCDECK_SCHEDULE__ENABLED="false",
    )
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print(
            "    (this environment sets PYTHONDONTWRITEBYTECODE, so the repository's own modules "
            "have no bytecode cache and are compiled at every start; these runs use a cache "
            "in the temporary directory instead, for both programs)",
            flush=True,
        )
    syncdeck = (
        SYNCDECK,
        ["runner:", "orders", "customers", "products", "prices", "palette"],
        b"q",
    )
    hello = ([sys.executable, "-c", HELLO], ["Hello, world"], b"\x11")
    first_paint(*_args(syncdeck, env))  # warm-up: creates the store, warms the file cache
    first_paint(*_args(hello, env))
    paints: dict[str, list[Paint]] = {"syncdeck": [], "hello": []}
    for _ in range(prof.paint_runs):
        paints["hello"].append(first_paint(*_args(hello, env)))
        paints["syncdeck"].append(first_paint(*_args(syncdeck, env)))
    times = {name: [p.wall for p in runs] for name, runs in paints.items()}
    sd, hw = statistics.median(times["syncdeck"]), statistics.median(times["hello"])
    runs = ", ".join(f"{t * 1000:.0f}" for t in times["syncdeck"])
    hello_runs = ", ".join(f"{t * 1000:.0f}" for t in times["hello"])
    print(f"    (syncdeck runs: {runs} ms; hello world runs: {hello_runs} ms)", flush=True)
    report.add(
        "c",
        "first full paint, syncdeck / hello world",
        f"{sd / hw:.2f}x ({ms(sd)} vs {ms(hw)}, medians of {prof.paint_runs})",
        f"<= {TARGET_PAINT_RATIO:g}x",
        sd / hw <= TARGET_PAINT_RATIO,
    )
    sd_cpu, hw_cpu = (statistics.mean(p.cpu for p in paints[n]) for n in ("syncdeck", "hello"))
    report.add(
        "c",
        "CPU time to first full paint, syncdeck / hello world",
        f"{sd_cpu / hw_cpu:.2f}x ({ms(sd_cpu)} vs {ms(hw_cpu)}, means of {prof.paint_runs})",
    )


def _args(
    spec: tuple[list[str], list[str], bytes], env: dict[str, str]
) -> tuple[list[str], dict[str, str], list[str], bytes]:
    command, markers, quit_key = spec
    return command, env, markers, quit_key


# -- main -------------------------------------------------------------------------------


def print_table(report: Report, context: str) -> None:
    headers = ("part", "measure", "result", "target", "verdict")
    rows = [(r.part, r.metric, r.value, r.target, r.verdict) for r in report.rows]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(f"\n{context}\n")
    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows, fewer samples")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print cProfile of the event loop thread (a 5 s extra stretch in a; "
        "the whole sync in b, whose figures are then measured under the profiler)",
    )
    parser.add_argument(
        "--part",
        choices=("a", "b", "c"),
        action="append",
        help="run only this part (repeatable); default: all three",
    )
    args = parser.parse_args()
    prof = QUICK if args.quick else FULL
    report = Report()
    context = (
        f"syncdeck console bench{' (--quick)' if args.quick else ''}: Python "
        f"{platform.python_version()}, Textual {textual.__version__}, {platform.machine()}, "
        f"{load()} at the start"
    )
    print(context, flush=True)
    base = Path(tempfile.mkdtemp(prefix="syncdeck-console-bench-"))
    try:
        parts: list[tuple[str, str, Callable[[], Any]]] = [
            (
                "a",
                f"(a) progress storm: {STORM_RATE:,.0f} events/s, {prof.window_s:g} s window, "
                f"then up to {prof.storm_events:,} events",
                lambda: asyncio.run(part_a(base, prof, report, args.profile)),
            ),
            (
                "b",
                f"(b) a real full sync of {prof.products:,} products in the console's process",
                lambda: asyncio.run(part_b(base, prof, report, args.profile)),
            ),
            (
                "c",
                "(c) time to first full paint, in a 100x30 pseudo-terminal",
                lambda: part_c(base, prof, report),
            ),
        ]
        for part, title, run in parts:
            if args.part and part not in args.part:
                continue
            print(f"\n{title}", flush=True)
            started = time.monotonic()
            run()
            print(f"    ({time.monotonic() - started:.0f} s; {load()})", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print_table(report, context.replace(" at the start", " at the start of the run"))
    judged = [r for r in report.rows if r.ok is not None]
    failed = [r for r in judged if not r.ok]
    print(
        f"\n{'FAIL' if failed else 'PASS'}: {len(judged) - len(failed)} of {len(judged)} "
        "targets met" + (f"; missed: {', '.join(r.metric for r in failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
