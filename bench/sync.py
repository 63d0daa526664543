"""Sync engine benchmark: full-sync throughput beside a plain sqlite3 upsert, the cost of an
incremental sync, and peak memory, each beside its target.

Run from the repository root:

    .venv/bin/python bench/sync.py              # 1,000,000 products
    .venv/bin/python bench/sync.py --quick      # 100,000 products
    .venv/bin/python bench/sync.py --rows N
    .venv/bin/python bench/sync.py --profile    # also: a cProfile of a full sync, all threads

Everything runs on real SQLite files in a fresh temporary directory (its filesystem is
printed in the header), removed at the end.

0. Setup, not in any figure: the demo ERP is generated with N products (no customers,
   prices or orders; `changes_per_minute = 0`, so the source only changes when this
   benchmark changes it). Its generation time is printed, and excluded.

1. Full sync: a separate process (so that its peak RSS is the syncs' alone) opens the
   store with `SQLiteStore.open` (creating the replica tables) and runs
   `EntitySyncService.run` for products, the one engine the orchestrator runs, with the
   default settings (`sync.batch_size` 2000): demo ERP -> validation -> SQLite replica,
   one transaction per page. `resolve_mode(auto)` must pick full ("no cursor yet").
   Figure: N / wall time of `run()`, in rows/s. The CPU time of the process over the
   same span (all threads) is printed too, with the ratio worked out on it: on a busy
   machine the CPU ratio is the steadier figure.

   Beside it, in this process: a plain sqlite3 `executemany` upsert of the same rows into
   the same schema (a fresh database created by `SQLiteStore.open`, so the products table
   and its index are identical), with the writer's own upsert statement, every column
   filled the same way (the row_hash of the same values, a synced_at stamp), committed in
   pages of the same size (one `BEGIN IMMEDIATE` ... `COMMIT` per 2000 rows, as the
   engine does). The rows are read from the demo ERP database and their hashes worked out
   first; that preparation is timed separately, printed, and not part of the figure. A
   variant with one single transaction is printed for reference. Target: full sync /
   plain upsert >= 0.5.

2. Incremental sync: in the same sync process, 0.1% of the products (a seeded random
   sample) are changed in the demo ERP (`DemoERP.upsert`, new weight, an updated_at later
   than all initial data; not timed), `resolve_mode(auto)` must pick incremental, and
   `run()` is timed. Target: <= 2% of the full sync's time.

3. Peak RSS of the sync process over both syncs, read in that process after the
   incremental sync: VmHWM from /proc/self/status (Linux; elsewhere
   `resource.getrusage(RUSAGE_SELF).ru_maxrss`, which on Linux also carries the peak of
   the process it was forked from: here the benchmark's parent, bigger for having held
   every row for the plain upsert). The RSS right after its imports is printed beside
   it. Target: <= 300 MB.

Afterwards the replica is compared with the source in SQL (every product, every column,
nothing extra live), and with the plain upsert's table (every column and row_hash; only
the rows changed for the incremental may differ), so a fast but wrong sync cannot pass.
The exit status is 0 when every target is met, 1 otherwise.

With --profile, the sync process then runs one more full sync into a fresh store under
cProfile, with a profiler in every thread (the event loop, the engine's writer thread and
the executor threads that read the demo ERP), and prints the merged top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import msgspec  # noqa: E402
from common import fs_type  # noqa: E402

from core.config import DemoSizes, SyncSettings  # noqa: E402
from core.demo import DEMO_FILENAME, DemoERP, DemoSource  # noqa: E402
from core.demo.generation import BASE_EPOCH, ROWS_PER_SECOND, iso  # noqa: E402
from core.models import SyncMode  # noqa: E402
from core.replica.sqlite import SQLiteReplica  # noqa: E402
from core.store import DB_FILENAME, SQLiteStore  # noqa: E402
from core.sync.codec import row_digest as row_hash  # noqa: E402
from core.sync.engine import EngineSettings, EntitySyncService  # noqa: E402
from core.sync.entities import ENTITIES  # noqa: E402
from core.sync.service import RunContext  # noqa: E402

SPEC = ENTITIES["products"]
CHANGED_SHARE = 0.001
TARGET_RATIO = 0.5
TARGET_INCREMENTAL_SHARE = 0.02
TARGET_RSS_MB = 300.0
SAMPLE_SEED = 1
WAITS = {
    "<method 'get' of '_queue.SimpleQueue' objects>",
    "<method 'poll' of 'select.epoll' objects>",
    "<method 'acquire' of '_thread.lock' objects>",
}
"""Where idle threads sit: left out of the profile's listing."""


def sizes(rows: int) -> DemoSizes:
    return DemoSizes(customers=0, products=rows, prices=0, orders=0)


def maxrss_mb() -> float:
    """Peak RSS of this process so far. VmHWM (Linux) is this program's own peak;
    ru_maxrss also counts the peak of the process it was forked from, when that was
    bigger (the benchmark's parent, holding a million rows), so it is only the fallback."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_s() -> float:
    """CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def upsert_sql() -> str:
    """The replica writer's upsert, built the same way (the statement is private to it)."""
    cols = SPEC.columns
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    return (
        f"INSERT INTO {SPEC.table} ({', '.join(cols)}, row_hash, synced_at, deleted_at) "
        f"VALUES ({', '.join('?' for _ in cols)}, ?, ?, NULL) "
        f"ON CONFLICT ({SPEC.key}) DO UPDATE SET {updates}, row_hash = excluded.row_hash, "
        "synced_at = excluded.synced_at, deleted_at = NULL"
    )


async def create_store(path: Path) -> None:
    """The store and the replica's tables in one file, as the daemon makes them."""
    store = SQLiteStore(path)
    await store.open()
    await store.close()
    SQLiteReplica(path).target(SPEC).close()


def engine_settings() -> EngineSettings:
    defaults = SyncSettings()
    return EngineSettings(
        batch_size=defaults.batch_size,
        full_threshold=defaults.full_threshold,
        full_every_s=defaults.full_every_h * 3600,
    )


def context(mode: SyncMode, run_id: int) -> RunContext:
    return RunContext(request_id=run_id, run_id=run_id, mode=mode, mode_reason="bench", attempt=1)


# -- the sync process -----------------------------------------------------------------


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


def change_products(erp: DemoERP, rows: int) -> int:
    """Change 0.1% of the products in the ERP (a seeded sample: new weight, an updated_at
    after everything there); return how many."""
    changed = max(1, round(rows * CHANGED_SHARE))
    picks = random.Random(SAMPLE_SEED).sample(range(rows), changed)
    skus = [f"P{i:08d}" for i in picks]
    stamp = iso(BASE_EPOCH + rows // ROWS_PER_SECOND + 3600)
    src = sqlite3.connect(erp.path)
    records = []
    cols = SPEC.columns
    for start in range(0, len(skus), 500):
        chunk = skus[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in src.execute(
            f"SELECT {', '.join(cols)} FROM products WHERE sku IN ({marks})", chunk
        ):
            record = dict(zip(cols, row, strict=True))
            record["weight_kg"] = round(record["weight_kg"] + 1.0, 3)
            record["updated_at"] = stamp
            records.append(record)
    src.close()
    erp.upsert("products", records)
    return len(records)


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


# -- the plain sqlite3 baseline --------------------------------------------------------


def read_rows(erp_path: Path) -> list[tuple[Any, ...]]:
    """Every product as the replica stores it: the model's columns, row_hash, synced_at."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    db = sqlite3.connect(erp_path)
    try:
        rows = []
        for sku, name, category, unit, active, weight, updated in db.execute(
            f"SELECT {', '.join(SPEC.columns)} FROM products ORDER BY updated_at, sku"
        ):
            values = (sku, name, category, unit, bool(active), weight, updated)
            rows.append((*values, row_hash(values, []), stamp))
        return rows
    finally:
        db.close()


def plain_upsert(path: Path, rows: list[tuple[Any, ...]], batch: int | None) -> tuple[float, float]:
    """executemany of the writer's upsert: one transaction per `batch` rows (or one in all).
    Returns wall and CPU seconds."""
    asyncio.run(create_store(path))
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = NORMAL")
    sql = upsert_sql()
    size = batch or len(rows)
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, len(rows), size):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, rows[start : start + size])
        db.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    count = db.execute("SELECT COUNT(*) FROM products").fetchone()[0]
    db.close()
    assert count == len(rows), (count, len(rows))
    return elapsed, cpu


# -- checks ----------------------------------------------------------------------------


def replica_matches_source(data_dir: Path) -> tuple[int, int, int]:
    """(source rows, rows missing or different, rows live but not in the source)."""
    db = sqlite3.connect(f"file:{data_dir / DB_FILENAME}?mode=ro", uri=True)
    try:
        db.execute("ATTACH DATABASE ? AS src", (f"file:{data_dir / DEMO_FILENAME}?mode=ro",))
        differs = " OR ".join(f"r.{c} IS NOT s.{c}" for c in SPEC.columns)
        total = db.execute("SELECT COUNT(*) FROM src.products").fetchone()[0]
        wrong = db.execute(
            "SELECT COUNT(*) FROM src.products s LEFT JOIN products r ON r.sku = s.sku "
            f"WHERE r.sku IS NULL OR r.deleted_at IS NOT NULL OR {differs}"
        ).fetchone()[0]
        extra = db.execute(
            "SELECT COUNT(*) FROM products WHERE deleted_at IS NULL "
            "AND sku NOT IN (SELECT sku FROM src.products)"
        ).fetchone()[0]
        return total, wrong, extra
    finally:
        db.close()


def same_rows(a: Path, b: Path) -> int:
    """How many rows differ between two replica tables, synced_at aside."""
    db = sqlite3.connect(f"file:{a}?mode=ro", uri=True)
    try:
        db.execute("ATTACH DATABASE ? AS b", (f"file:{b}?mode=ro",))
        cols = [*SPEC.columns, "row_hash", "deleted_at"]
        differs = " OR ".join(f"x.{c} IS NOT y.{c}" for c in cols)
        return int(
            db.execute(
                "SELECT COUNT(*) FROM products x LEFT JOIN b.products y ON y.sku = x.sku "
                f"WHERE y.sku IS NULL OR {differs}"
            ).fetchone()[0]
        )
    finally:
        db.close()


# -- main ------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    headers = ("Metric", "Result", "Target", "Status")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print()
    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="products (default 1e6)")
    parser.add_argument("--quick", action="store_true", help="100,000 products")
    parser.add_argument("--profile", action="store_true", help="also profile a full sync")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    rows = 100_000 if args.quick else args.rows
    if rows < 1000:
        parser.error("--rows must be at least 1000")

    if args.child is not None:
        result = asyncio.run(sync_child(args.child, rows, args.profile))
        print(json.dumps(result))
        return 0

    base = Path(tempfile.mkdtemp(prefix="syncdeck-bench-sync-"))
    try:
        return run(base, rows, args.profile)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(base: Path, rows: int, profile: bool) -> int:
    data_dir = base / "data"
    data_dir.mkdir(mode=0o700)
    load = os.getloadavg()[0]
    print(
        f"syncdeck sync benchmark: {rows:,} products; {os.cpu_count()} CPUs (load {load:.1f}), "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, temp dir {base} "
        f"({fs_type(base)})",
        flush=True,
    )

    t0 = time.perf_counter()
    DemoERP(data_dir / DEMO_FILENAME, sizes=sizes(rows), changes_per_minute=0).close()
    print(f"  setup: demo ERP generated in {time.perf_counter() - t0:.1f} s (excluded)", flush=True)

    # The plain baseline first, on the untouched source, then free its rows.
    t0 = time.perf_counter()
    source_rows = read_rows(data_dir / DEMO_FILENAME)
    prep_s = time.perf_counter() - t0
    batch = engine_settings().batch_size
    plain_s, plain_cpu = plain_upsert(base / "plain" / DB_FILENAME, source_rows, batch)
    single_s, _ = plain_upsert(base / "plain-single" / DB_FILENAME, source_rows, None)
    del source_rows
    plain_rate = rows / plain_s
    print(
        f"  plain sqlite3 executemany upsert: {plain_rate:,.0f} rows/s ({plain_s:.2f} s wall, "
        f"{plain_cpu:.2f} s CPU; a transaction per {batch} rows); in one transaction: "
        f"{rows / single_s:,.0f} rows/s ({single_s:.2f} s); reading the rows from the demo "
        f"ERP and hashing them beforehand: {prep_s:.2f} s (not counted)",
        flush=True,
    )

    cmd = [sys.executable, str(Path(__file__).resolve()), "--rows", str(rows), "--child"]
    cmd.append(str(data_dir))
    if profile:
        cmd.append("--profile")
    child = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if child.returncode != 0:
        print(child.stdout + child.stderr, file=sys.stderr)
        return 2
    result = json.loads(child.stdout.strip().splitlines()[-1])

    full_s, inc_s = result["full_s"], result["incremental_s"]
    full_rate = rows / full_s
    ratio = full_rate / plain_rate
    cpu_ratio = plain_cpu / result["full_cpu_s"]
    inc_share = inc_s / full_s
    rss = result["rss_peak_mb"]
    fc, ic = result["full_counts"], result["incremental_counts"]
    print(
        f"  full sync (EntitySyncService.run, batch {result['batch_size']}): "
        f"{full_rate:,.0f} rows/s ({full_s:.2f} s wall, {result['full_cpu_s']:.2f} s CPU in all "
        f"threads; fetched {fc['fetched']:,}, inserted {fc['inserted']:,}, rejected "
        f"{fc['rejected']})",
        flush=True,
    )
    print(
        f"  ratio full sync / plain upsert: {ratio:.2f} by wall time, {cpu_ratio:.2f} by CPU time",
        flush=True,
    )
    print(
        f"  incremental after {result['changed']:,} products changed "
        f"({result['incremental_reason']}): {inc_s * 1000:.0f} ms; fetched {ic['fetched']:,}, "
        f"updated {ic['updated']:,}, unchanged {ic['unchanged']:,}",
        flush=True,
    )
    print(
        f"  sync process peak RSS (VmHWM): {result['rss_start_mb']:.0f} MB after imports, "
        f"{result['rss_after_full_mb']:.0f} MB after the full sync, {rss:.0f} MB after the "
        "incremental",
        flush=True,
    )

    total, wrong, extra = replica_matches_source(data_dir)
    differing = same_rows(data_dir / DB_FILENAME, base / "plain" / DB_FILENAME)
    correct = wrong == 0 and extra == 0 and fc["inserted"] == rows
    correct = correct and differing == result["changed"]
    print(
        f"  check: replica vs source after the incremental: {total:,} source rows, "
        f"{wrong} missing or different, {extra} extra live; the plain upsert's table differs "
        f"from the replica in {differing:,} rows (expected: the {result['changed']:,} changed "
        "since)",
        flush=True,
    )

    ok_ratio = ratio >= TARGET_RATIO
    ok_inc = inc_share <= TARGET_INCREMENTAL_SHARE
    ok_rss = rss <= TARGET_RSS_MB
    table = [
        (f"Full sync, {rows:,} products", f"{full_rate:,.0f} rows/s ({full_s:.1f} s)", "", ""),
        ("Plain sqlite3 executemany upsert", f"{plain_rate:,.0f} rows/s ({plain_s:.1f} s)", "", ""),
        ("Full sync / plain upsert", f"{ratio:.2f}", f">= {TARGET_RATIO}", verdict(ok_ratio)),
        (
            f"Incremental sync, {CHANGED_SHARE:.1%} changed",
            f"{inc_s * 1000:.0f} ms = {inc_share:.2%} of full",
            f"<= {TARGET_INCREMENTAL_SHARE:.0%}",
            verdict(ok_inc),
        ),
        ("Peak RSS, sync process", f"{rss:.0f} MB", f"<= {TARGET_RSS_MB:.0f} MB", verdict(ok_rss)),
        ("Replica equals source", "yes" if correct else "NO", "yes", verdict(correct)),
    ]
    print_table(table)
    print(
        f"\n`bench/sync.py{' --quick' if rows == 100_000 else ''}` on {os.cpu_count()} CPUs "
        f"(load {os.getloadavg()[0]:.1f} at the end), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}. Demo ERP generation excluded; the plain upsert's rows "
        "were read and hashed beforehand, untimed; the same pages, one transaction each."
    )
    if profile:
        print("\n" + result["profile"])
    all_ok = ok_ratio and ok_inc and ok_rss and correct
    print(f"\noverall: {verdict(all_ok)}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
