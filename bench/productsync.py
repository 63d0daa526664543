"""The workload of the sync benches (bench/sync.py, and bench/postgres.py on its replica):
the demo ERP's products alone, the engine's default settings, a run's context, the store
and replica tables as the daemon makes them, and the seeded 0.1% of the products that
change before the incremental sync."""

from __future__ import annotations

import random
import resource
import sqlite3
from pathlib import Path

from core.config import DemoSizes, SyncSettings
from core.demo import DemoERP
from core.demo.generation import BASE_EPOCH, ROWS_PER_SECOND, iso
from core.entities import ENTITIES
from core.models import SyncMode
from core.replica.sqlite import SQLiteReplica
from core.store import SQLiteStore
from core.sync.engine import EngineSettings
from core.sync.service import RunContext

SPEC = ENTITIES["products"]
CHANGED_SHARE = 0.001
SAMPLE_SEED = 1


def sizes(rows: int) -> DemoSizes:
    return DemoSizes(customers=0, products=rows, prices=0, orders=0)


def cpu_s() -> float:
    """CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


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
