"""The run-history aggregates behind `/metrics`, written once for every backend.

`run_stats` builds the queries from the backend's `Dialect` (how to write a
duration in seconds, a queue wait in seconds, and a parameter placeholder) and
runs them through the backend's `fetch`, inside one read snapshot that the
backend opens. Every process that reads the same store reports the same
numbers.

Raises: whatever the backend's `fetch` raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.models import RunCounts
from core.store.base import Histogram, RunStats
from core.store.sql.columns import Dialect, Fetch


def _histogram(row: Sequence[Any] | None, bounds: tuple[float, ...]) -> Histogram:
    if row is None or not row[0]:  # no runs: COUNT 0, every SUM NULL
        return Histogram(bounds=bounds, cumulative=tuple(0 for _ in bounds), count=0, total=0.0)
    return Histogram(
        bounds=bounds,
        cumulative=tuple(int(v) for v in row[2:]),
        count=int(row[0]),
        total=float(row[1]),
    )


def _buckets(value: str, bounds: tuple[float, ...], param: str) -> str:
    return "".join(f", SUM(CASE WHEN {value} <= {param} THEN 1 ELSE 0 END)" for _ in bounds)


def run_stats(
    fetch: Fetch,
    dialect: Dialect,
    duration_buckets: tuple[float, ...],
    wait_buckets: tuple[float, ...],
) -> RunStats:
    kinds = tuple(RunCounts.__struct_fields__)
    runs = {
        (str(r[0]), str(r[1])): int(r[2])
        for r in fetch(
            "SELECT service, outcome, COUNT(*) FROM runs "
            "WHERE outcome IS NOT NULL GROUP BY service, outcome",
            (),
        )
    }
    durations = {
        str(row[0]): _histogram(row[1:], duration_buckets)
        for row in fetch(
            f"SELECT service, COUNT(*), SUM({dialect.duration_s})"
            f"{_buckets(dialect.duration_s, duration_buckets, dialect.param)} FROM runs "
            "WHERE outcome IS NOT NULL GROUP BY service",
            duration_buckets,
        )
    }
    wait_rows = fetch(
        f"SELECT COUNT(*), SUM({dialect.wait_s})"
        f"{_buckets(dialect.wait_s, wait_buckets, dialect.param)} FROM runs "
        "JOIN requests ON requests.id = runs.request_id WHERE runs.attempt = 1",
        wait_buckets,
    )
    sums = ", ".join(f"COALESCE(SUM({kind}), 0)" for kind in kinds)
    rows = {
        (str(r[0]), kind): int(value)
        for r in fetch(f"SELECT service, {sums} FROM runs GROUP BY service", ())
        for kind, value in zip(kinds, r[1:], strict=True)
    }
    last_success = {
        str(r[0]): dialect.decode.instant(r[1])
        for r in fetch(
            "SELECT name, last_success_at FROM services WHERE last_success_at IS NOT NULL", ()
        )
    }
    epoch = fetch("SELECT COALESCE(MAX(epoch), 0) FROM lease", ())[0][0]
    return RunStats(
        runs=runs,
        durations=durations,
        queue_wait=_histogram(wait_rows[0] if wait_rows else None, wait_buckets),
        rows=rows,
        last_success=last_success,
        lease_epoch=int(epoch),
    )
