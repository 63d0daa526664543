"""PostgreSQL benchmark: the replica's full and incremental syncs beside a plain COPY, durable
no-op runs/s beside SQLite, and cross-process request -> start with NOTIFY.

Run from the repository root (the server on 127.0.0.1:5432, user postgres, as `make test`
starts it; `--admin-url` names another):

    .venv/bin/python bench/postgres.py            # 1,000,000 products
    .venv/bin/python bench/postgres.py --quick    # 100,000 products, shorter windows
    .venv/bin/python bench/postgres.py --rows N   # or SYNCDECK_BENCH_PG_ROWS=N (make bench)
    .venv/bin/python bench/postgres.py --parts 3,4  # only the store's parts

Everything runs in a database of the benchmark's own (`syncdeck_bench_<pid>`, created from
template0 and dropped `WITH (FORCE)` at the end), each part in a schema of its own, and a
fresh temporary directory (the demo ERP, SQLite files), removed at the end.

1. Full sync into the PostgreSQL replica: the demo ERP is generated with N products
   (excluded, as in `bench/sync.py`); `EntitySyncService.run` for products, the one engine
   the orchestrator runs, with the default settings (`sync.batch_size` 2000), writes into a
   `PostgresReplica` in schema `replica`: demo ERP -> validation -> COPY into a temporary
   table -> set-based upsert, one transaction per page. `resolve_mode(auto)` must pick full.
   Figure: N / wall time of `run()`.

   Beside it, in the same process and database: a plain binary COPY of the same rows into
   the same schema (schema `plain`, made by the same replica code, so the products table and
   its index are identical), every column filled the same way (row_hash of the same values,
   a synced_at stamp), one COPY and one transaction per 2000 rows. The rows are read from
   the demo ERP and hashed first, untimed. One COPY of all rows in one transaction is
   printed for reference. Target: full sync / plain COPY >= 0.5.

2. Incremental sync after 0.1% of the products changed (`bench/sync.py`'s seeded sample),
   `resolve_mode(auto)` must pick incremental. Target: <= 1% of the full sync's time.
   Afterwards the replica is compared with the plain COPY's table in SQL (every column and
   row_hash): only the changed rows may differ, and they must.

3. Durable no-op runs/s: `bench/orchestrator.py`'s measure (4 self-requeueing no-op
   services, runs counted from the store's history over a fixed window) on a SQLite file and
   on a `PostgresStore`, one after the other. Reference figures, no target for PostgreSQL.
   Then a second pass on a fresh schema counts, client side, the statements every psycopg
   cursor of this process sends (COPY aside) and the round trips they cost (a pipeline
   sends several statements in one), and the server's commits of the database
   (`pg_stat_database`, autocommit reads included), per run recorded: where a durable
   run's time goes. The counting slows that pass; its runs/s
   are not reported.

4. Cross-process request -> run start, on a SQLite file first (the daemon polls; a
   reference) and then on PostgreSQL: a real `syncdeck daemon` subprocess on PostgreSQL
   (`SYNCDECK_STORE__URL`; schedule off; the simulated services with run_seconds=0) holds
   the lease; an `Orchestrator(runner=False)` in this process on the same schema sends
   requests, each after the previous one ended and a random 0-100 ms pause. Latency is
   `run.started_at - request.requested_at` from the store (the server's clock for both).
   The daemon wakes on NOTIFY (polling every 0.5 s stays underneath). Target: p95 <= 20 ms.

Each figure is printed with its target and PASS or MISS. A part that fails (an error, a
mode that was not the one expected) is one ERROR line in the table, and the other parts
still run. The exit status is 1 when a target is missed or a part failed, 2 when
PostgreSQL is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


import psycopg  # noqa: E402
from common import fs_type  # noqa: E402
from daemon import CHILDREN, stop_process  # noqa: E402
from orchprofile import FULL, QUICK  # noqa: E402
from pgstore import cross_process_both, durable  # noqa: E402
from pgsync import replica_syncs  # noqa: E402
from psycopg import sql  # noqa: E402
from report import TableRow, print_table  # noqa: E402

ADMIN_URL = os.environ.get("SYNCDECK_BENCH_PGURL", "postgresql://postgres@127.0.0.1:5432/postgres")


def with_db(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


def admin(url: str, statement: sql.Composed) -> None:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


async def bench(url: str, base: Path, rows: int, quick: bool, parts: set[int]) -> list[TableRow]:
    """The chosen parts (by their first number), one after the other; a part that fails is
    one ERROR line, and the rest still run."""
    prof = QUICK if quick else FULL
    table: list[TableRow] = []
    data_dir = base / "data"
    data_dir.mkdir(mode=0o700)
    every: list[tuple[str, str, Callable[[], Awaitable[list[TableRow]]]]] = [
        (
            "1-2. the replica: full and incremental sync beside a plain COPY",
            "Full sync / incremental into the PostgreSQL replica",
            lambda: replica_syncs(url, data_dir, rows),
        ),
        (
            "3. durable no-op runs/s, SQLite and PostgreSQL",
            "Durable no-op runs/s",
            lambda: durable(url, base, prof),
        ),
        (
            "4. cross-process request -> run start, SQLite (polling) and PostgreSQL (NOTIFY)",
            "Cross-process request -> run start",
            lambda: cross_process_both(url, base, prof.xproc_samples),
        ),
    ]
    chosen = [p for p in every if int(p[0][0]) in parts]
    for title, metric, part in chosen:
        print(f"\n{title}", flush=True)
        try:
            table += await part()
        except Exception as exc:  # one part's failure is reported; the others still run
            print(f"    failed: {type(exc).__name__}: {exc}", flush=True)
            table.append((metric, f"{type(exc).__name__}: {str(exc)[:60]}", "runs", "ERROR"))
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        type=int,
        default=int(os.environ.get("SYNCDECK_BENCH_PG_ROWS") or 1_000_000),
        help="products (default: $SYNCDECK_BENCH_PG_ROWS, else 1e6)",
    )
    parser.add_argument("--quick", action="store_true", help="100,000 products, shorter windows")
    parser.add_argument("--admin-url", default=ADMIN_URL, help="a database to create ours from")
    parser.add_argument(
        "--parts",
        default="1,3,4",
        help="which parts to run, by number: 1 (the replica, with 2), 3, 4 (default: all)",
    )
    args = parser.parse_args()
    try:
        parts = {int(p) for p in args.parts.split(",")}
    except ValueError:
        parser.error("--parts: numbers separated by commas, e.g. 3,4")
    rows = 100_000 if args.quick and "--rows" not in sys.argv else args.rows
    if rows < 1000:
        parser.error("--rows must be at least 1000")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    dbname = f"syncdeck_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin(
            args.admin_url,
            sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(dbname)),
        )
    except psycopg.Error as exc:
        print(f"PostgreSQL unreachable at {args.admin_url}: {exc}", file=sys.stderr)
        return 2
    url = with_db(args.admin_url, dbname)
    base = Path(tempfile.mkdtemp(prefix="syncdeck-bench-pg-"))
    started = time.monotonic()
    try:
        with psycopg.connect(url) as conn:
            version = conn.info.parameter_status("server_version")
        print(
            f"syncdeck PostgreSQL benchmark: {rows:,} products; {os.cpu_count()} CPUs (load "
            f"{os.getloadavg()[0]:.1f}), Python {platform.python_version()}, PostgreSQL "
            f"{version} at {urlsplit(url).hostname}, psycopg {psycopg.__version__} "
            f"({psycopg.pq.__impl__}); database {dbname}; temp dir {base} ({fs_type(base)})",
            flush=True,
        )
        table = asyncio.run(bench(url, base, rows, args.quick, parts))
    finally:
        for child in CHILDREN:
            stop_process(child)
        shutil.rmtree(base, ignore_errors=True)
        admin(
            args.admin_url,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)),
        )
    print_table(("Metric", "Result", "Target", "Status"), table)
    failed = [row for row in table if row[3] in ("MISS", "ERROR")]
    print(
        f"\n`bench/postgres.py{' --quick' if args.quick else ''}` on {os.cpu_count()} CPUs "
        f"(load {os.getloadavg()[0]:.1f} at the end), server on the same machine; "
        f"{len(failed)} target(s) missed, in {time.monotonic() - started:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
