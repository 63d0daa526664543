"""Orchestrator benchmark: throughput, latency and idle cost, each beside its target.

Run from the repository root:

    .venv/bin/python bench/orchestrator.py           # full run (about a minute)
    .venv/bin/python bench/orchestrator.py --quick   # shorter windows, fewer samples

Every figure uses the real SQLite store: a file in a fresh temporary directory
(on whatever filesystem `tempfile` picks; printed in the header), WAL mode, the
same settings the daemon uses. Nothing is mocked except the services, which do
no work.

1. Durable no-op throughput. Four no-op services are registered with one runner
   orchestrator; each service's `run()` calls `orchestrator.request()` for itself
   and returns at once. A request may queue while its service's previous run is
   still running, so the queue never empties and every completed run goes through
   the whole durable pipeline: enqueue (a transaction) -> runner wake-up ->
   dispatch (store view, policy pick, resolve_mode) -> start_run (a transaction)
   -> run -> finish_run (a transaction) -> health refresh. After a warm-up, runs
   are counted over a fixed window from the store's own history (runs whose
   `finished_at` falls in the window and whose outcome is `succeeded`), so only
   durably recorded runs count. (`bench/postgres.py` runs the same measure on
   a PostgreSQL store.) The heartbeat, lease renewal and event-log
   pruning run as usual during the window.

   Beside it, the same process measures APScheduler 3 dispatching no-op
   coroutine jobs in memory (AsyncIOScheduler, MemoryJobStore, AsyncIOExecutor,
   no misfire grace): (a) a batch of jobs all due now, drained, timed from
   `start()` to the last EVENT_JOB_EXECUTED; (b) four chains of one-shot jobs in
   which each job adds the next, the shape of the durable measurement. This is
   the ceiling of a purely in-memory dispatcher on this machine, not a target.

2. In-process request-to-start latency: an idle runner orchestrator with one
   no-op service; a subscriber (`orchestrator.events()`) times `request()` being
   called -> the matching RUN_STARTED event arriving, with perf_counter. Each
   sample waits for the previous request to finish and then for a random 5-15 ms
   pause, so the runner is idle when the request arrives.

3. Cross-process request-to-start latency: a real `syncdeck daemon` subprocess
   (`python -m console daemon`; schedule disabled; the simulated stand-in
   services, source.kind = simulated, with run_seconds=0, so that only the
   orchestrator is measured) holds the lease and runs the syncs. Requests come
   from a second `Orchestrator(runner=False)` in this benchmark process on the
   same database file (the figure with a target: many samples), plus a few from
   the real CLI (`python -m console sync orders`, each its own process; shown
   for reference). Latency is `run.started_at - request.requested_at` as
   recorded in the store by the two processes (same host clock). Each request
   waits for the previous one to end, then for a random 0-100 ms pause, so
   requests land at random phases of the daemon's 100 ms store polling.

4. Idle daemon CPU: the same daemon, after the benchmark's client has closed and
   the daemon has settled, over a 10 s window: utime+stime from /proc/PID/stat
   (the whole process, all threads) as a percentage of one core.

Subprocesses are always terminated (SIGTERM, then SIGKILL; the daemon also
gets SIGTERM if this process dies) and temporary directories removed. The exit
status is 1 if any target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common import fs_type  # noqa: E402
from daemon import CHILDREN, stop_process  # noqa: E402
from latency import cross_process, inprocess_latency  # noqa: E402
from orchprofile import FULL, QUICK, Profile  # noqa: E402
from report import Report, print_table  # noqa: E402
from throughput import aps_batch, aps_chains, durable_throughput  # noqa: E402


@contextlib.contextmanager
def _section(title: str) -> Iterator[None]:
    print(f"\n{title}", flush=True)
    started = time.monotonic()
    yield
    print(f"    ({time.monotonic() - started:.1f} s)", flush=True)


async def bench(prof: Profile, quick: bool) -> Report:
    report = Report()
    base = Path(tempfile.mkdtemp(prefix="syncdeck-bench-"))
    try:
        report.context = (
            f"`bench/orchestrator.py{' --quick' if quick else ''}`: Python "
            f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"{os.cpu_count()} CPUs ({platform.machine()}), store on {fs_type(base)}, "
            f"load average {os.getloadavg()[0]:.2f} at start"
        )
        print(f"syncdeck orchestrator bench, {report.context}; temp dir {base}", flush=True)
        with _section("1. throughput"):
            await durable_throughput(base, prof, report)
            await aps_batch(prof, report)
            await aps_chains(prof, report)
            aps = report.figures.get("aps_batch", 0.0)
            durable = report.figures.get("durable", 0.0)
            if aps and durable:
                print(
                    f"    durable SQLite runs/s = {durable / aps:.1%} of APScheduler's batch rate"
                )
        with _section("2. in-process latency"):
            await inprocess_latency(base, prof, report)
        with _section(
            "3. cross-process latency and 4. idle daemon CPU "
            "(daemon: schedule off, simulated services, run_seconds=0)"
        ):
            await cross_process(base, prof, report)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return report


def print_report(report: Report) -> None:
    print_table(
        ("Metric", "Result", "Target", "Status"),
        [(r.metric, r.value, r.target, r.verdict) for r in report.rows],
        report.context,
    )
    for note in report.notes:
        print(f"\nnote: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows, fewer samples")
    args = parser.parse_args()
    prof = QUICK if args.quick else FULL
    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        report = asyncio.run(bench(prof, args.quick))
    finally:
        for child in CHILDREN:
            stop_process(child)
    print_report(report)
    failed = [r for r in report.rows if r.ok is False]
    print(
        f"\n{len(report.rows) - len(failed) - sum(r.ok is None for r in report.rows)} passed, "
        f"{len(failed)} failed, in {time.monotonic() - started:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
