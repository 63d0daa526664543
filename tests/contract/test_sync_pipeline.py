"""The engine's page loop on both replicas: on PostgreSQL with its read-ahead (a reader
thread decodes page N+1 while page N is written), on SQLite inline; the demo ERP with its
own fault knobs on the other side.

What a user would notice if the loop went wrong: a run that hangs or leaks a thread
when its source hangs and the run times out; a source error that is lost, or pages written
past it; a cursor ahead of the rows it covers. Each test reads the replica's own tables.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from contract.backends import pg_url
from core.config import DemoFaults, DemoSizes
from core.demo import DEMO_FILENAME, DemoERP, DemoSource
from core.entities import ENTITIES
from core.errors import SourceUnavailable
from core.models import SyncMode
from core.replica.base import Replica
from core.replica.postgres import PostgresReplica
from core.replica.sqlite import SQLiteReplica
from core.sync.engine import EngineSettings, EntitySyncService
from core.sync.service import RunContext

SPEC = ENTITIES["products"]
BATCH = 10


Counter = Callable[[], tuple[int, str | None, str | None]]
"""Rows of the replica's products, the highest cursor value among them, the stored cursor."""


def _service(erp: DemoERP, replica: Replica, faults: DemoFaults) -> EntitySyncService:
    return EntitySyncService(
        SPEC, lambda: DemoSource(erp, faults), replica, EngineSettings(batch_size=BATCH)
    )


def _ctx(run_id: int) -> RunContext:
    return RunContext(
        request_id=run_id, run_id=run_id, mode=SyncMode.FULL, mode_reason="test", attempt=1
    )


COUNT = f"SELECT count(*), max(updated_at) FROM {SPEC.table}"
CURSOR = "SELECT cursor FROM sync_state WHERE entity = 'products'"


@pytest.fixture(params=["sqlite", "postgres"])
def replica(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Replica, Counter]:
    if request.param == "sqlite":
        db = tmp_path / "replica.db"

        def sqlite_counts() -> tuple[int, str | None, str | None]:
            conn = sqlite3.connect(db)
            try:
                count, top = conn.execute(COUNT).fetchone()
                found = conn.execute(CURSOR).fetchone()
            finally:
                conn.close()
            return int(count), top, None if found is None else found[0]

        return SQLiteReplica(db), sqlite_counts
    url = pg_url(request.getfixturevalue("pg_database"))

    def pg_counts() -> tuple[int, str | None, str | None]:
        with psycopg.connect(url, options="-c search_path=replica") as conn:
            row = conn.execute(COUNT).fetchone()
            found = conn.execute(CURSOR).fetchone()
        assert row is not None
        return int(row[0]), row[1], None if found is None else found[0]

    return PostgresReplica(url, "replica"), pg_counts


def _run_threads() -> list[threading.Thread]:
    """The run's writer and reader threads still alive."""
    return [t for t in threading.enumerate() if t.name.startswith("sync-products") and t.is_alive()]


@pytest.fixture
def erp(tmp_path: Path) -> DemoERP:
    return DemoERP(
        tmp_path / DEMO_FILENAME,
        sizes=DemoSizes(customers=0, products=200, prices=0, orders=0),
        changes_per_minute=0,
    )


async def test_a_hung_source_times_out_with_the_pages_before_it_committed_and_no_thread_left(
    erp: DemoERP, replica: tuple[Replica, Counter]
) -> None:
    target, counts = replica
    service = _service(erp, target, DemoFaults(hang_after_pages=3))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(service.run(_ctx(1)), timeout=2.0)
    deadline = time.monotonic() + 10
    while _run_threads() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _run_threads() == [], "a thread of the run outlived it"
    count, top, cursor = counts()
    # The three pages served before the hang, in order, and a cursor no further than them.
    assert count == 3 * BATCH
    assert cursor == top
    erp.close()


async def test_a_source_error_fails_the_run_and_the_replica_keeps_only_whole_pages(
    erp: DemoERP, replica: tuple[Replica, Counter]
) -> None:
    target, counts = replica
    service = _service(erp, target, DemoFaults(error_rate=0.3))
    with pytest.raises(SourceUnavailable):  # 20 pages: a 503 comes (the ERP's rng is seeded)
        await service.run(_ctx(1))
    count, top, cursor = counts()
    assert count % BATCH == 0 and count < 200, count  # whole pages, up to the failed one
    assert cursor == top
    # A run without faults afterwards completes the replica.
    await _service(erp, target, DemoFaults()).run(_ctx(99))
    assert counts()[0] == 200
    erp.close()
