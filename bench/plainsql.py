"""The plain copy beside bench/sqlsource.py's syncs: the ERP table read with the driver's
own server-side cursor (psycopg: a named cursor, itersize = the batch; PyMySQL: an
SSCursor, fetchmany), every row turned into the replica's values by hand, and written with
sqlite3 `executemany` into the same replica schema, a `BEGIN IMMEDIATE` ... `COMMIT` per
batch, as the engine commits its pages.

Its rows are exactly syncdeck's, so the tables can be compared afterwards: sync_key the id
as text, the id, name, email, credit_limit as exact decimal text, active a bool, write_date
the UTC instant of its Europe/Rome wall time (`2024-01-01T00:00:30.000000Z`), row_hash the
fingerprint of those values (`core.sync.digest`, the function syncdeck uses: there is one
definition of a row's fingerprint), synced_at a stamp. The statement is the replica
writer's upsert (`INSERT ... ON CONFLICT DO UPDATE`, as in bench/sync.py's plain upsert).
Rows are read in key order, the order syncdeck's full listing has, so that both write the
same b-tree the same way.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pymysql.cursors
from erptable import COLUMNS, TABLE, ZONE, ErpDatabase, maria_connect

from core.entities import EntitySpec
from core.sync.digest import digests

SELECT = f"SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY id"


def upsert_sql(spec: EntitySpec) -> str:
    """The replica writer's upsert, built the same way (the statement is private to it)."""
    cols = spec.columns
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
    return (
        f"INSERT INTO {spec.table} ({', '.join(cols)}, row_hash, synced_at, deleted_at) "
        f"VALUES ({', '.join('?' for _ in cols)}, ?, ?, NULL) "
        f"ON CONFLICT ({spec.key}) DO UPDATE SET {updates}, row_hash = excluded.row_hash, "
        "synced_at = excluded.synced_at, deleted_at = NULL"
    )


def replica_values(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Source rows as the replica's columns (sync_key first, the cursor last): one list
    comprehension, the wall time's UTC offset subtracted (the quickest exact conversion of
    the ones tried: twice as fast as `astimezone` and `strftime`)."""
    offset = ZONE.utcoffset
    return [
        (
            str(id_),
            id_,
            name,
            email,
            format(credit, "f"),
            bool(active),
            (wall - offset(wall)).isoformat(timespec="microseconds") + "Z",
        )
        for id_, name, email, credit, active, wall in rows
    ]


def pg_pages(db: ErpDatabase, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """The table in pages of `batch`, through a named (server-side) cursor."""
    # One transaction (not autocommit): a named cursor lives in one.
    with psycopg.connect(db.url) as conn, conn.cursor(name="plain_copy") as cur:
        cur.itersize = batch
        cur.execute(SELECT)
        while rows := cur.fetchmany(batch):
            yield rows


def maria_pages(db: ErpDatabase, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """The table in pages of `batch`, through an unbuffered SSCursor."""
    with maria_connect(db, cursorclass=pymysql.cursors.SSCursor) as conn, conn.cursor() as cur:
        cur.execute(SELECT)
        while rows := cur.fetchmany(batch):
            yield list(rows)


def plain_copy(db: ErpDatabase, path: Path, spec: EntitySpec, batch: int) -> dict[str, float]:
    """Copy the ERP table into the replica file at `path` (its tables already made);
    returns the rows, wall and CPU seconds."""
    sqlite = sqlite3.connect(path, isolation_level=None)
    sqlite.execute("PRAGMA synchronous = NORMAL")  # as the replica's targets set it
    statement = upsert_sql(spec)
    pages = pg_pages(db, batch) if db.server == "postgresql" else maria_pages(db, batch)
    copied = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for rows in pages:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        values = replica_values(rows)
        writes = [(*v, d, stamp) for v, d in zip(values, digests(values), strict=True)]
        sqlite.execute("BEGIN IMMEDIATE")
        sqlite.executemany(statement, writes)
        sqlite.execute("COMMIT")
        copied += len(writes)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    sqlite.close()
    return {"rows": copied, "wall_s": wall, "cpu_s": cpu}
