"""Small helpers the benchmark scripts share (they run as scripts: this file sits beside
them on sys.path): the filesystem under a directory, nearest-rank percentiles, a process's
CPU time from /proc, its peak RSS, and waiting for a condition inside an event loop."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import resource
import time
from collections.abc import Awaitable, Callable
from pathlib import Path


def fs_type(path: Path) -> str:
    """The filesystem type of the mount holding `path` (Linux), for the report header."""
    best, kind = "", "?"
    with contextlib.suppress(OSError):
        real = str(path.resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and real.startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    return kind


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in (0, 100]."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    return percentile(values, 95)


def cpu_ticks(stat: str | Path) -> int:
    """User + system time so far, in clock ticks, from a /proc stat file: /proc/PID/stat
    (the whole process, every thread) or /proc/self/task/TID/stat (one thread)."""
    fields = Path(stat).read_bytes().rpartition(b")")[2].split()
    # after the ")" field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pid: int) -> float:
    """User + system time of process `pid` so far, every thread (/proc/PID/stat)."""
    return cpu_ticks(f"/proc/{pid}/stat") / os.sysconf("SC_CLK_TCK")


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout: float, what: str) -> None:
    """Poll `condition` (a plain or an async check) every 10 ms until it holds; after
    `timeout` seconds, RuntimeError("timed out waiting for <what>")."""
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


def ms(seconds: float) -> str:
    """Seconds as whole milliseconds: "12 ms"."""
    return f"{1000 * seconds:.0f} ms"


def maxrss_mb() -> float:
    """Peak RSS of this process so far. VmHWM (Linux) is this program's own peak;
    ru_maxrss also counts the peak of the process it was forked from, when that was
    bigger (the benchmark's parent, holding a million rows), so it is only the fallback."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
