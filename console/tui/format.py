"""Small text formatters shared by the panes (times, durations, bars)."""

from __future__ import annotations

from datetime import datetime


def clock(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone().strftime("%H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


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
