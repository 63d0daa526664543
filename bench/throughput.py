"""Part 1 of bench/orchestrator.py: durable no-op runs/s (four self-requeueing no-op
services, runs counted from the store's own history over a fixed window; also run on
PostgreSQL by bench/postgres.py) and, beside it, APScheduler 3 dispatching no-op jobs in
memory: the ceiling of a purely in-memory dispatcher on this machine, not a target."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import until
from noop import NoopService, settings_for
from orchprofile import Profile
from report import Report

from core.models import RunOutcome, SyncMode
from core.orchestrator import Orchestrator
from core.store import DB_FILENAME, SQLiteStore, Store

TARGET_RUNS_PER_S = 2000.0


async def durable_throughput(
    base: Path,
    prof: Profile,
    report: Report,
    store: Store | None = None,
    label: str = "SQLite file",
    key: str = "durable",
) -> None:
    """On `store` (default: a SQLite file under `base`); the figure is `report.figures[key]`."""
    data_dir = base / f"throughput-{key}"
    data_dir.mkdir(mode=0o700)
    chaining = True
    orch: Orchestrator | None = None

    async def again(service: NoopService) -> None:
        if chaining:
            assert orch is not None
            await orch.request(service.name, SyncMode.FULL)

    services = {f"noop{i}": NoopService(f"noop{i}", again) for i in range(4)}
    orch = Orchestrator(
        store or SQLiteStore(data_dir / DB_FILENAME),
        services,
        settings_for(data_dir),
        runner=True,
        schedule=False,
    )
    await orch.start()
    try:
        await until(lambda: orch.is_runner, 5.0, "the orchestrator to become the runner")
        for name in services:
            await orch.request(name, SyncMode.FULL)
        await asyncio.sleep(prof.throughput_warmup_s)
        t0 = time.time()
        await asyncio.sleep(prof.throughput_s)
        t1 = time.time()
        chaining = False
        deadline = time.monotonic() + 10
        while (snap := await orch.snapshot()).active is not None or snap.queue:
            if time.monotonic() > deadline:
                raise RuntimeError("the queue never drained")
            await asyncio.sleep(0.01)
        runs = await orch.history(limit=10_000_000)  # every run, from the store
    finally:
        await orch.stop()
    in_window = sum(
        1
        for r in runs
        if r.outcome == RunOutcome.SUCCEEDED
        and r.finished_at is not None
        and t0 <= r.finished_at.timestamp() < t1
    )
    not_ok = sum(1 for r in runs if r.outcome is not None and r.outcome != RunOutcome.SUCCEEDED)
    total = len(runs)
    rate = in_window / (t1 - t0)
    report.add(
        f"Durable no-op runs/s ({label}, 4 self-requeueing services)",
        f"{rate:,.0f}/s ({1000 / rate if rate else float('inf'):.2f} ms/run)",
        f">= {TARGET_RUNS_PER_S:,.0f}/s" if key == "durable" else "reference",
        rate >= TARGET_RUNS_PER_S if key == "durable" else None,
        f"{in_window:,} runs recorded in a {t1 - t0:.1f} s window",
    )
    if not_ok:
        report.notes.append(f"throughput ({label}): {not_ok} of {total} runs did not succeed")
    report.figures[key] = rate


async def _aps_noop() -> None:
    return None


def _aps_scheduler() -> Any:
    from apscheduler.executors.asyncio import AsyncIOExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    return AsyncIOScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": AsyncIOExecutor()},
        job_defaults={"misfire_grace_time": None, "coalesce": False, "max_instances": 1},
    )


async def aps_batch(prof: Profile, report: Report) -> None:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
    from apscheduler.triggers.date import DateTrigger

    n = prof.aps_batch_jobs
    done = asyncio.Event()
    counts = {"executed": 0, "other": 0}
    last = [0.0]

    def listener(event: Any) -> None:
        counts["executed" if event.code == EVENT_JOB_EXECUTED else "other"] += 1
        if counts["executed"] + counts["other"] >= n:
            last[0] = time.perf_counter()
            done.set()

    scheduler = _aps_scheduler()
    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    now = datetime.now(UTC)
    for i in range(n):
        scheduler.add_job(_aps_noop, DateTrigger(run_date=now), id=f"j{i}")
    t0 = time.perf_counter()
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), 120)
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
    rate = counts["executed"] / (last[0] - t0)
    report.add(
        "APScheduler 3 in-memory no-op jobs/s (batch of due jobs drained)",
        f"{rate:,.0f}/s",
        detail=f"{counts['executed']:,} jobs executed, {counts['other']} missed or failed",
    )
    report.figures["aps_batch"] = rate


async def aps_chains(prof: Profile, report: Report) -> None:
    from apscheduler.events import EVENT_JOB_EXECUTED
    from apscheduler.triggers.date import DateTrigger

    scheduler = _aps_scheduler()
    executed: list[float] = []
    chaining = True
    seq = [0]

    scheduler.add_listener(lambda e: executed.append(time.perf_counter()), EVENT_JOB_EXECUTED)

    async def link(chain: int) -> None:
        if chaining:
            seq[0] += 1
            scheduler.add_job(
                link, DateTrigger(run_date=datetime.now(UTC)), args=[chain], id=f"c{seq[0]}"
            )

    scheduler.start()
    try:
        for chain in range(4):
            scheduler.add_job(link, DateTrigger(run_date=datetime.now(UTC)), args=[chain])
        await asyncio.sleep(0.3)
        t0 = time.perf_counter()
        await asyncio.sleep(prof.aps_chain_s)
        t1 = time.perf_counter()
        chaining = False
        await asyncio.sleep(0.05)
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
    n = sum(1 for t in executed if t0 <= t < t1)
    report.add(
        "APScheduler 3 in-memory no-op jobs/s (4 self-re-adding chains)",
        f"{n / (t1 - t0):,.0f}/s",
        detail=f"{n:,} jobs executed in a {t1 - t0:.1f} s window",
    )
