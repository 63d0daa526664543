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
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from common import fs_type, percentile  # noqa: E402
from daemon import (  # noqa: E402
    CHILDREN,
    DAEMON_SERVICES,
    Daemon,
    request_ended,
    stop_process,
    store_latency_ms,
    wait_for_lease,
)
from noop import NoopService, settings_for  # noqa: E402
from orchprofile import FULL, QUICK, Profile  # noqa: E402
from pgcount import StatementCounter  # noqa: E402
from plainsqlite import read_rows  # noqa: E402
from productsync import (  # noqa: E402
    CHANGED_SHARE,
    SPEC,
    change_products,
    context,
    cpu_s,
    engine_settings,
    sizes,
)
from psycopg import sql  # noqa: E402
from report import Report, print_table  # noqa: E402
from throughput import durable_throughput  # noqa: E402

from core.demo import DEMO_FILENAME, DemoERP, DemoSource  # noqa: E402
from core.models import SyncMode  # noqa: E402
from core.orchestrator import Orchestrator  # noqa: E402
from core.replica.postgres import PostgresReplica  # noqa: E402
from core.store import DB_FILENAME, SQLiteStore  # noqa: E402
from core.store.base import Store  # noqa: E402
from core.store.postgres import PostgresStore  # noqa: E402
from core.sync.engine import EntitySyncService  # noqa: E402

ADMIN_URL = os.environ.get("SYNCDECK_BENCH_PGURL", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_RATIO = 0.5
TARGET_INCREMENTAL_SHARE = 0.01
TARGET_XPROC_P95_MS = 20.0
COPY_TYPES = ["text", "text", "text", "text", "int8", "float8", "text", "bytea", "text"]
"""The products' columns, row_hash and synced_at, as the replica's tables type them."""


Row = tuple[str, str, str, str]
"""A line of the table: metric, result, target, PASS / MISS (or empty: a reference)."""


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def with_db(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


def admin(url: str, statement: sql.Composed) -> None:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


# -- 1 and 2: the replica ----------------------------------------------------------------


def plain_copy(url: str, schema: str, rows: list[tuple[Any, ...]], batch: int | None) -> float:
    """Binary COPY of `rows` into `schema`'s products, a transaction per `batch` rows (or one
    in all), into tables the replica code made. Returns wall seconds."""
    PostgresReplica(url, schema).target(SPEC).close()
    statement = (
        f"COPY {schema}.products ({', '.join(SPEC.columns)}, row_hash, synced_at) "
        "FROM STDIN (FORMAT BINARY)"
    )
    size = batch or len(rows)
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        for start in range(0, len(rows), size):
            with conn.transaction(), conn.cursor().copy(statement) as copy:
                copy.set_types(COPY_TYPES)
                for row in rows[start : start + size]:
                    copy.write_row(row)
        elapsed = time.perf_counter() - t0
        found = conn.execute(f"SELECT count(*) FROM {schema}.products").fetchone()
    assert found is not None and found[0] == len(rows), (found, len(rows))
    return elapsed


def differing_rows(url: str) -> int:
    """Rows of the replica's products that differ from the plain COPY's, synced_at aside."""
    cols = [*SPEC.columns, "row_hash", "deleted_at"]
    differs = " OR ".join(f"r.{c} IS DISTINCT FROM p.{c}" for c in cols)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM replica.products r FULL JOIN plain.products p "
            f"ON p.sku = r.sku WHERE r.sku IS NULL OR p.sku IS NULL OR {differs}"
        ).fetchone()
    assert row is not None
    return int(row[0])


async def replica_syncs(url: str, data_dir: Path, rows: int) -> list[Row]:
    t0 = time.perf_counter()
    DemoERP(data_dir / DEMO_FILENAME, sizes=sizes(rows), changes_per_minute=0).close()
    print(f"  setup: demo ERP generated in {time.perf_counter() - t0:.1f} s (excluded)", flush=True)

    t0 = time.perf_counter()
    source_rows = [(*r[:4], int(r[4]), *r[5:]) for r in read_rows(data_dir / DEMO_FILENAME)]
    prep_s = time.perf_counter() - t0
    batch = engine_settings().batch_size
    plain_s = plain_copy(url, "plain", source_rows, batch)
    single_s = plain_copy(url, "plain_single", source_rows, None)
    del source_rows
    plain_rate = rows / plain_s
    print(
        f"  plain binary COPY: {plain_rate:,.0f} rows/s ({plain_s:.2f} s; a transaction per "
        f"{batch} rows); one COPY in one transaction: {rows / single_s:,.0f} rows/s "
        f"({single_s:.2f} s); reading and hashing the rows beforehand: {prep_s:.2f} s "
        "(not counted)",
        flush=True,
    )

    erp = DemoERP(data_dir / DEMO_FILENAME, sizes=sizes(rows), changes_per_minute=0)
    try:
        replica = PostgresReplica(url, "replica")
        settings = engine_settings()
        service = EntitySyncService(SPEC, lambda: DemoSource(erp), replica, settings)
        mode, reason = await service.resolve_mode(SyncMode.AUTO)
        assert mode == SyncMode.FULL, (mode, reason)
        t0, c0 = time.perf_counter(), cpu_s()
        full = await service.run(context(SyncMode.FULL, 1))
        full_s, full_cpu = time.perf_counter() - t0, cpu_s() - c0
        full_rate = rows / full_s
        print(
            f"  full sync (EntitySyncService.run into PostgresReplica, batch {batch}): "
            f"{full_rate:,.0f} rows/s ({full_s:.2f} s wall, {full_cpu:.2f} s CPU of this "
            f"process; fetched {full.fetched:,}, inserted {full.inserted:,})",
            flush=True,
        )

        changed = change_products(erp, rows)
        mode, reason = await service.resolve_mode(SyncMode.AUTO)
        assert mode == SyncMode.INCREMENTAL, (mode, reason)
        t0 = time.perf_counter()
        inc = await service.run(context(SyncMode.INCREMENTAL, 2))
        inc_s = time.perf_counter() - t0
        print(
            f"  incremental after {changed:,} products changed ({reason}): {inc_s * 1000:.0f} ms; "
            f"fetched {inc.fetched:,}, updated {inc.updated:,}, unchanged {inc.unchanged:,}",
            flush=True,
        )
    finally:
        erp.close()

    differing = differing_rows(url)
    correct = full.inserted == rows and inc.updated == changed and differing == changed
    print(
        f"  check: the replica differs from the plain COPY's table in {differing:,} rows "
        f"(expected: the {changed:,} changed since)",
        flush=True,
    )
    ratio = full_rate / plain_rate
    share = inc_s / full_s
    return [
        (
            f"Full sync, {rows:,} products, PostgreSQL replica",
            f"{full_rate:,.0f} rows/s ({full_s:.1f} s)",
            "",
            "",
        ),
        (
            "Plain binary COPY, same rows and schema",
            f"{plain_rate:,.0f} rows/s ({plain_s:.1f} s)",
            "",
            "",
        ),
        (
            "Full sync / plain COPY",
            f"{ratio:.2f}",
            f">= {TARGET_RATIO}",
            verdict(ratio >= TARGET_RATIO),
        ),
        (
            f"Incremental sync, {CHANGED_SHARE:.1%} changed",
            f"{inc_s * 1000:.0f} ms = {share:.2%} of full",
            f"<= {TARGET_INCREMENTAL_SHARE:.0%}",
            verdict(share <= TARGET_INCREMENTAL_SHARE),
        ),
        (
            "Replica equals the plain COPY but the changes",
            "yes" if correct else "NO",
            "yes",
            verdict(correct),
        ),
    ]


# -- 3 and 4: the store ------------------------------------------------------------------


async def durable(url: str, base: Path, prof: Profile) -> list[Row]:
    report = Report()
    await durable_throughput(base, prof, report, None, "SQLite file", "durable_sqlite")
    store = PostgresStore(url, schema="durable")
    await durable_throughput(base, prof, report, store, "PostgreSQL", "durable_pg")
    sqlite_rate, pg_rate = report.figures["durable_sqlite"], report.figures["durable_pg"]
    print(f"    PostgreSQL / SQLite: {pg_rate / sqlite_rate:.2f}", flush=True)
    # A second, counted pass: the counting itself would slow the timed one.
    commits_before = server_commits(url)
    with StatementCounter() as counted:
        store = PostgresStore(url, schema="durable_counted")
        await durable_throughput(
            base, prof, Report(), store, "PostgreSQL, statements counted", "counted"
        )
    commits = server_commits(url) - commits_before
    runs = recorded_runs(url, "durable_counted")
    per_run = counted.total / runs
    trips = counted.round_trips / runs
    print(
        f"    counted pass: {runs} runs; per run: {per_run:.1f} statements and {trips:.1f} "
        f"round trips (client side), {commits / runs:.1f} server commits; most frequent per run: "
        + "; ".join(f"{n / runs:.1f} x {q}" for q, n in counted.top(6)),
        flush=True,
    )
    return [
        ("Durable no-op runs/s, SQLite file", f"{sqlite_rate:,.0f}/s", "reference", ""),
        (
            "Durable no-op runs/s, PostgreSQL",
            f"{pg_rate:,.0f}/s ({pg_rate / sqlite_rate:.2f}x SQLite)",
            "reference",
            "",
        ),
        (
            "Statements / round trips / server commits per durable run, PostgreSQL",
            f"{per_run:.1f} / {trips:.1f} / {commits / runs:.1f}",
            "reference",
            "",
        ),
    ]


def server_commits(url: str) -> int:
    """The database's commits so far, every session's (autocommit statements count too)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def recorded_runs(url: str, schema: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {schema}.runs").fetchone()
    assert row is not None
    return max(1, int(row[0]))


async def cross_process(url: str | None, base: Path, samples: int) -> list[Row]:
    """On PostgreSQL at `url` (NOTIFY), or on a SQLite file when `url` is None."""
    label = "SQLite file" if url is None else "PostgreSQL"
    data_dir = base / f"daemon-{'sqlite' if url is None else 'pg'}"
    data_dir.mkdir(mode=0o700)
    env = {} if url is None else {"SYNCDECK_STORE__URL": url, "SYNCDECK_STORE__SCHEMA": "xproc"}
    daemon = Daemon(data_dir, data_dir.with_suffix(".log"), env)
    try:
        store: Store = (
            SQLiteStore(data_dir / DB_FILENAME)
            if url is None
            else PostgresStore(url, schema="xproc")
        )
        names = DAEMON_SERVICES
        client = Orchestrator(
            store,
            {name: NoopService(name) for name in names},
            settings_for(data_dir),
            runner=False,
            schedule=False,
        )
        await client.start()
        try:
            await wait_for_lease(client, daemon)
            lat: list[float] = []
            for i in range(samples):
                await asyncio.sleep(random.uniform(0.0, 0.1))
                request = await client.request(names[i % len(names)], SyncMode.FULL)
                await request_ended(client, request.id)
                lat.append(await store_latency_ms(store, request.id))
        finally:
            await client.stop()
    finally:
        daemon.close()
    p50, p95 = percentile(lat, 50), percentile(lat, 95)
    print(
        f"    {label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(lat):.1f} ms (n={len(lat)})",
        flush=True,
    )
    return [
        (
            f"Cross-process request -> run start, p50 / p95 (daemon on {label}, n={len(lat)})",
            f"{p50:.1f} / {p95:.1f} ms",
            f"p95 <= {TARGET_XPROC_P95_MS:g} ms",
            verdict(p95 <= TARGET_XPROC_P95_MS),
        )
    ]


# -- main --------------------------------------------------------------------------------


async def bench(url: str, base: Path, rows: int, quick: bool, parts: set[int]) -> list[Row]:
    """The chosen parts (by their first number), one after the other; a part that fails is
    one ERROR line, and the rest still run."""
    prof = QUICK if quick else FULL
    table: list[Row] = []
    data_dir = base / "data"
    data_dir.mkdir(mode=0o700)
    every: list[tuple[str, str, Callable[[], Awaitable[list[Row]]]]] = [
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


async def cross_process_both(url: str, base: Path, samples: int) -> list[Row]:
    sqlite_rows = await cross_process(None, base, samples)
    # The SQLite figure is a reference beside PostgreSQL's: its target is the PostgreSQL one.
    table = [(m, v, "reference", "") for m, v, _, _ in sqlite_rows]
    return table + await cross_process(url, base, samples)


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
