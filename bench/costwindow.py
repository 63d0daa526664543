"""What the console costs over a stretch of time (part a of bench/console.py): wall time,
process CPU and its split by thread (/proc/self/task), redraws and paints, and RSS."""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import cpu_ticks
from paintprobe import PaintProbe

from console.tui.app import SyncdeckApp


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
            ticks = cpu_ticks(task / "stat")
            tid = int(task.name)
            name = re.sub(r"_\d+$", "", names.get(tid, f"thread {tid}"))
            out[tid] = (name, ticks / tick)
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
        self.frames0, self.paints0 = self.app.main.frames, self.probe.paints
        self.threads0 = thread_cpu()
        self.seen = dict(self.threads0)
        return self

    def sample(self) -> None:
        self.seen.update(thread_cpu())

    def stop(self) -> Window:
        self.sample()
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.cpu0
        self.frames = self.app.main.frames - self.frames0
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
