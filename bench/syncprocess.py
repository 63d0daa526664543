"""The sync process of bench/sync.py (its `--child`, so that its peak RSS is the syncs'
alone): a full products sync, 0.1% of the products changed, an incremental sync, the peak
RSS, and with --profile one more full sync under cProfile in every thread."""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
from common import maxrss_mb
from productsync import SPEC, change_products, context, cpu_s, create_store, engine_settings, sizes

from core.demo import DEMO_FILENAME, DemoERP, DemoSource
from core.models import SyncMode
from core.replica.sqlite import SQLiteReplica
from core.store import DB_FILENAME
from core.sync.engine import EngineSettings, EntitySyncService

WAITS = {
    "<method 'get' of '_queue.SimpleQueue' objects>",
    "<method 'poll' of 'select.epoll' objects>",
    "<method 'acquire' of '_thread.lock' objects>",
}
"""Where idle threads sit: left out of the profile's listing."""


async def sync_child(data_dir: Path, rows: int, profile: bool) -> dict[str, Any]:
    rss_start = maxrss_mb()
    erp = DemoERP(data_dir / DEMO_FILENAME, sizes=sizes(rows), changes_per_minute=0)
    db_path = data_dir / DB_FILENAME
    await create_store(db_path)
    settings = engine_settings()
    service = EntitySyncService(SPEC, lambda: DemoSource(erp), SQLiteReplica(db_path), settings)
    out: dict[str, Any] = {"rss_start_mb": rss_start, "batch_size": settings.batch_size}

    mode, reason = await service.resolve_mode(SyncMode.AUTO)
    assert mode == SyncMode.FULL, (mode, reason)
    t0, c0 = time.perf_counter(), cpu_s()
    counts = await service.run(context(SyncMode.FULL, 1))
    out["full_s"] = time.perf_counter() - t0
    out["full_cpu_s"] = cpu_s() - c0
    out["full_counts"] = msgspec.structs.asdict(counts)
    out["rss_after_full_mb"] = maxrss_mb()

    out["changed"] = change_products(erp, rows)

    mode, reason = await service.resolve_mode(SyncMode.AUTO)
    assert mode == SyncMode.INCREMENTAL, (mode, reason)
    out["incremental_reason"] = reason
    t0 = time.perf_counter()
    counts = await service.run(context(SyncMode.INCREMENTAL, 2))
    out["incremental_s"] = time.perf_counter() - t0
    out["incremental_counts"] = msgspec.structs.asdict(counts)
    out["rss_peak_mb"] = maxrss_mb()

    if profile:
        out["profile"] = await profiled_full_sync(erp, data_dir / "profiled.db", settings)
    erp.close()
    return out


async def profiled_full_sync(erp: DemoERP, db_path: Path, settings: EngineSettings) -> str:
    """A full sync into a fresh store with a cProfile in every thread; the merged top lines."""
    await create_store(db_path)
    profiles: list[cProfile.Profile] = []
    original_run = threading.Thread.run

    def profiled_run(thread: threading.Thread) -> None:
        profiler = cProfile.Profile()
        profiles.append(profiler)
        profiler.enable()
        try:
            original_run(thread)
        finally:
            profiler.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign,assignment]
    service = EntitySyncService(SPEC, lambda: DemoSource(erp), SQLiteReplica(db_path), settings)

    def run_in_fresh_loop() -> float:
        # A fresh thread and loop, so every executor thread is created (and profiled) anew.
        t0 = time.perf_counter()
        asyncio.run(service.run(context(SyncMode.FULL, 3)))
        return time.perf_counter() - t0

    before = set(threading.enumerate())
    try:
        holder: list[float] = []
        thread = threading.Thread(target=lambda: holder.append(run_in_fresh_loop()))
        thread.start()
        thread.join()
        for other in set(threading.enumerate()) - before:
            other.join(timeout=10)  # the engine's writer thread closes its connection last
    finally:
        threading.Thread.run = original_run  # type: ignore[method-assign]
    stats = pstats.Stats(*profiles, stream=(text := io.StringIO()))
    waiting = [key for key in stats.stats if key[2] in WAITS]  # type: ignore[attr-defined]
    waited = sum(stats.stats[key][2] for key in waiting)  # type: ignore[attr-defined]
    for key in waiting:
        del stats.stats[key]  # type: ignore[attr-defined]
    stats.total_tt -= waited  # type: ignore[attr-defined]
    text.write(
        f"full sync under cProfile: {holder[0]:.1f} s wall; {len(profiles)} threads profiled; "
        f"{waited:.1f} s of idle waiting (epoll, executor queues, locks) left out. By own "
        "time, all threads:\n"
    )
    stats.sort_stats("tottime").print_stats(20)
    text.write("By cumulative time, the core's functions:\n")
    stats.sort_stats("cumulative").print_stats(r"core/", 20)
    return text.getvalue()
