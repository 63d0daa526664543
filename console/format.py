"""Small text formatters shared by the front ends (times, durations, bars): one format
per kind of number.

- A time of day: `clock`, HH:MM:SS in local time.
- A span of time (a run's duration, a wait, an ETA): `duration`, whole units
  (`core.health.elapsed`: 0s, 9s, 1m12s, 2h05m).
- Rows where room is short (the main view: a run's rows, the progress, rows/s):
  `short_count`, two or three significant digits and a unit (950, 2.0k, 20k, 1.2M).
- Rows in full (a run's or a service's detail): `count`, every digit (20,000).
"""

from __future__ import annotations

from datetime import datetime

from core.health import elapsed


def clock(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone().strftime("%H:%M:%S")


def duration(seconds: float | None) -> str:
    """A span of time (`core.health.elapsed`: the core's sentences use it too), or "-"."""
    return "-" if seconds is None else elapsed(seconds)


def bar(done: int, total: int | None, width: int = 30) -> str:
    if not total:
        return "░" * width
    filled = min(width, int(width * done / total))
    return "█" * filled + "░" * (width - filled)


def count(n: int) -> str:
    return f"{n:,}"


UNITS = (("k", 1_000), ("M", 1_000_000), ("G", 1_000_000_000))


def short_count(n: int) -> str:
    """A count in at most four cells, one format whatever its size, never rounded up (a
    count that grows never reads ahead of itself): 950, 2.0k, 9.9k, 20k, 999k, 1.2M."""
    if n < 1000:
        return str(max(0, n))
    unit, scale = next(((u, s) for u, s in UNITS if n < s * 1000), UNITS[-1])
    tenths = n * 10 // scale
    return f"{tenths // 10}.{tenths % 10}{unit}" if tenths < 100 else f"{n // scale}{unit}"
