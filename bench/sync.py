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
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common import fs_type  # noqa: E402
from plainsqlite import plain_upsert, read_rows  # noqa: E402
from productsync import CHANGED_SHARE, engine_settings, sizes  # noqa: E402
from replicacheck import replica_matches_source, same_rows  # noqa: E402
from report import print_table, verdict  # noqa: E402
from syncprocess import sync_child  # noqa: E402

from core.demo import DEMO_FILENAME, DemoERP  # noqa: E402
from core.store import DB_FILENAME  # noqa: E402

TARGET_RATIO = 0.5
TARGET_INCREMENTAL_SHARE = 0.02
TARGET_RSS_MB = 300.0


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
    print_table(("Metric", "Result", "Target", "Status"), table)
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
