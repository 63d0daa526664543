"""The sync process of bench/sqlsource.py (its `--child sync`, so that its peak RSS is the
syncs' alone), on syncdeck's real path: the settings loaded from the data directory's
syncdeck.toml, the services built by `core.runtime.load_services` (as the daemon builds
them: the replica from `open_replica`, the entity's `EntitySyncService` behind its
`DeferredService`, its `SqlSource` made per run), then a full sync, 0.1% of the rows
changed in the ERP (untimed), an incremental sync, and the peak RSS.

Also the plain copy's process (`--child plain`), for its own figures and peak RSS.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import msgspec
from common import cpu_seconds, maxrss_mb
from erptable import ErpDatabase, change_rows
from plainsql import plain_copy
from sqlconfig import ENTITY, entity_spec, replica_path, settings_of

from core.models import SyncMode
from core.runtime import load_services
from core.sync.service import RunContext


def cpu_s() -> float:
    return cpu_seconds(os.getpid())


def context(mode: SyncMode, run_id: int) -> RunContext:
    return RunContext(request_id=run_id, run_id=run_id, mode=mode, mode_reason="bench", attempt=1)


async def sync_child(db: ErpDatabase, data_dir: Path, rows: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rss_start_mb": maxrss_mb()}
    settings = settings_of(data_dir)
    service = load_services(settings)[ENTITY]
    out["batch_size"] = settings.sync.batch_size

    mode, reason = await service.resolve_mode(SyncMode.AUTO)  # builds the service, untimed
    assert mode == SyncMode.FULL, (mode, reason)
    out["rss_built_mb"] = maxrss_mb()
    t0, c0 = time.perf_counter(), cpu_s()
    counts = await service.run(context(SyncMode.FULL, 1))
    out["full_s"] = time.perf_counter() - t0
    out["full_cpu_s"] = cpu_s() - c0
    out["full_counts"] = msgspec.structs.asdict(counts)
    out["rss_after_full_mb"] = maxrss_mb()

    out["changed"], out["changed_stamp"] = change_rows(db, rows)
    mode, reason = await service.resolve_mode(SyncMode.AUTO)
    assert mode == SyncMode.INCREMENTAL, (mode, reason)
    out["incremental_reason"] = reason
    t0 = time.perf_counter()
    counts = await service.run(context(SyncMode.INCREMENTAL, 2))
    out["incremental_s"] = time.perf_counter() - t0
    out["incremental_counts"] = msgspec.structs.asdict(counts)
    out["rss_peak_mb"] = maxrss_mb()
    return out


def plain_child(db: ErpDatabase, data_dir: Path) -> dict[str, Any]:
    settings = settings_of(data_dir)
    spec = entity_spec(settings)
    out: dict[str, Any] = {"rss_start_mb": maxrss_mb(), "batch": settings.sync.batch_size}
    out.update(plain_copy(db, replica_path(data_dir), spec, settings.sync.batch_size))
    out["rss_peak_mb"] = maxrss_mb()
    return out
