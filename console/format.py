"""Small text formatters shared by the front ends (times, durations, bars): one format
per kind of number."""

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


def short_count(n: int) -> str:
    """Counts for narrow columns: 950, 9,950, 20k, 1.2M."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n // 1000}k"
    return f"{n / 1_000_000:.1f}M"
