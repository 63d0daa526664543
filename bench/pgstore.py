"""Parts 3-4 of bench/postgres.py: the store on PostgreSQL. Durable no-op runs/s beside a
SQLite file (bench/orchestrator.py's measure), then a counted pass: statements, round trips
and server commits per run; and cross-process request -> run start against a real daemon,
on a SQLite file (polling, a reference) and on PostgreSQL (NOTIFY)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import psycopg
from common import percentile
from daemon import DAEMON_SERVICES, Daemon, request_ended, store_latency_ms, wait_for_lease
from noop import client as noop_client
from orchprofile import Profile
from pgcount import StatementCounter
from report import Report, TableRow, verdict
from throughput import durable_throughput

from core.models import SyncMode
from core.store import DB_FILENAME, SQLiteStore
from core.store.base import Store
from core.store.postgres import PostgresStore

TARGET_XPROC_P95_MS = 20.0


async def durable(url: str, base: Path, prof: Profile) -> list[TableRow]:
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


async def cross_process(url: str | None, base: Path, samples: int) -> list[TableRow]:
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
        client = noop_client(store, data_dir, tuple(names))
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
            verdict(p95 <= TARGET_XPROC_P95_MS, "MISS"),
        )
    ]


async def cross_process_both(url: str, base: Path, samples: int) -> list[TableRow]:
    sqlite_rows = await cross_process(None, base, samples)
    # The SQLite figure is a reference beside PostgreSQL's: its target is the PostgreSQL one.
    table = [(m, v, "reference", "") for m, v, _, _ in sqlite_rows]
    return table + await cross_process(url, base, samples)
