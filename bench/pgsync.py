"""Parts 1-2 of bench/postgres.py: the replica's full and incremental syncs into
PostgreSQL (`EntitySyncService` into a `PostgresReplica`) beside a plain binary COPY of the
same rows into the same schema, and the replica compared with the COPY's table afterwards."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
from plainsqlite import read_rows
from productsync import (
    CHANGED_SHARE,
    SPEC,
    change_products,
    context,
    cpu_s,
    engine_settings,
    sizes,
)
from report import TableRow, verdict

from core.demo import DEMO_FILENAME, DemoERP, DemoSource
from core.models import SyncMode
from core.replica.postgres import PostgresReplica
from core.sync.engine import EntitySyncService

TARGET_RATIO = 0.5
TARGET_INCREMENTAL_SHARE = 0.01
TARGET_INCREMENTAL_ROWS = 1_000_000
"""The incremental target holds at this size: on fewer rows (--quick) the fixed cost of a
run is a larger share of a shorter full sync, and the figure is shown for reference."""
COPY_TYPES = ["text", "text", "text", "text", "int8", "float8", "text", "bytea", "text"]
"""The products' columns, row_hash and synced_at, as the replica's tables type them."""


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


async def replica_syncs(url: str, data_dir: Path, rows: int) -> list[TableRow]:
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
    judged, target = rows >= TARGET_INCREMENTAL_ROWS, f"<= {TARGET_INCREMENTAL_SHARE:.0%}"
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
            verdict(ratio >= TARGET_RATIO, "MISS"),
        ),
        (
            f"Incremental sync, {CHANGED_SHARE:.1%} changed",
            f"{inc_s * 1000:.0f} ms = {share:.2%} of full",
            target if judged else f"reference ({target} at {TARGET_INCREMENTAL_ROWS:,} rows)",
            verdict(share <= TARGET_INCREMENTAL_SHARE, "MISS") if judged else "",
        ),
        (
            "Replica equals the plain COPY but the changes",
            "yes" if correct else "NO",
            "yes",
            verdict(correct, "MISS"),
        ),
    ]
