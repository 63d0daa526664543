"""The engine's read-ahead (a reader thread decodes page N+1 while page N is written),
against real SQLite files and the demo ERP with its own fault knobs.

What a user would notice if the pipeline went wrong: a run that hangs or leaks a thread
when its source hangs and the run times out; a source error that is lost, or pages written
past it; a cursor ahead of the rows it covers. Each test checks the replica file itself.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from core.config import DemoFaults, DemoSizes
from core.demo import DEMO_FILENAME, DemoERP, DemoSource
from core.errors import SourceUnavailable
from core.models import SyncMode
from core.replica.sqlite import SQLiteReplica
from core.sync.engine import EngineSettings, EntitySyncService
from core.sync.entities import ENTITIES
from core.sync.service import RunContext

SPEC = ENTITIES["products"]
BATCH = 10


def _service(erp: DemoERP, db: Path, faults: DemoFaults) -> EntitySyncService:
    return EntitySyncService(
        SPEC, lambda: DemoSource(erp, faults), SQLiteReplica(db), EngineSettings(batch_size=BATCH)
    )


def _ctx(run_id: int) -> RunContext:
    return RunContext(
        request_id=run_id, run_id=run_id, mode=SyncMode.FULL, mode_reason="test", attempt=1
    )


def _replica(db: Path) -> tuple[int, str | None, str | None]:
    """Rows, the highest cursor value among them, and the stored cursor."""
    conn = sqlite3.connect(db)
    try:
        count, top = conn.execute(f"SELECT count(*), max(updated_at) FROM {SPEC.table}").fetchone()
        row = conn.execute("SELECT cursor FROM sync_state WHERE entity = ?", ("products",))
        found = row.fetchone()
    finally:
        conn.close()
    return int(count), top, None if found is None else found[0]


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
    erp: DemoERP, tmp_path: Path
) -> None:
    db = tmp_path / "replica.db"
    service = _service(erp, db, DemoFaults(hang_after_pages=3))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(service.run(_ctx(1)), timeout=2.0)
    deadline = time.monotonic() + 10
    while _run_threads() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _run_threads() == [], "a thread of the run outlived it"
    count, top, cursor = _replica(db)
    # The three pages served before the hang, in order, and a cursor no further than them.
    assert count == 3 * BATCH
    assert cursor == top
    erp.close()


async def test_a_source_error_fails_the_run_and_the_replica_keeps_only_whole_pages(
    erp: DemoERP, tmp_path: Path
) -> None:
    db = tmp_path / "replica.db"
    service = _service(erp, db, DemoFaults(error_rate=0.3))
    with pytest.raises(SourceUnavailable):  # 20 pages: a 503 comes (the ERP's rng is seeded)
        await service.run(_ctx(1))
    count, top, cursor = _replica(db)
    assert count % BATCH == 0 and count < 200, count  # whole pages, up to the failed one
    assert cursor == top
    # A run without faults afterwards completes the replica.
    await _service(erp, db, DemoFaults()).run(_ctx(99))
    assert _replica(db)[0] == 200
    erp.close()
