"""The measuring processes of bench/restsource.py (its `--child plain`, `--child full` and
`--child sync`), each in a process of its own so that its CPU time and peak RSS are its own.

The plain client: an `httpx.Client`, `GET customers?_sort=id&_order=asc&_page=1&_limit=L`,
then the `Link` header's `rel="next"` URL until there is none; each body parsed with
`json.loads` and its records counted, nothing else. It is the least a client of this API
can do: the time it takes is the server's, plus HTTP and JSON parsing in Python.

The sync, on syncdeck's real path: the settings loaded from the data directory's
syncdeck.toml, the services built by `core.runtime.load_services` as the daemon builds them
(the replica from `open_replica`, the entity's `EntitySyncService` behind its
`DeferredService`, its `RestSource` made per run), then a full sync into an empty replica;
for `--child sync` then 0.1% of the records changed through json-server's API (untimed)
and an incremental sync (`--child full` stops after the full sync).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import msgspec
from common import cpu_seconds, maxrss_mb
from datadir import settings_of
from jsonserver import JsonServer
from restshop import ENTITY, PAGE, changed_ids, changes

from core.models import SyncMode
from core.runtime import load_services
from core.sync.service import RunContext


def cpu_s() -> float:
    return cpu_seconds(os.getpid())


def plain_child(url: str) -> dict[str, Any]:
    import httpx  # here: the sync process imports it as its first run does

    out: dict[str, Any] = {"rss_start_mb": maxrss_mb()}
    first = f"{url}{ENTITY}?_sort=id&_order=asc&_page=1&_limit={PAGE}"
    records = pages = 0
    t0, c0 = time.perf_counter(), cpu_s()
    with httpx.Client(timeout=60) as client:
        next_url: str | None = first
        while next_url:
            response = client.get(next_url)
            response.raise_for_status()
            records += len(json.loads(response.content))
            pages += 1
            next_url = response.links.get("next", {}).get("url")
    out.update(wall_s=time.perf_counter() - t0, cpu_s=cpu_s() - c0, records=records, pages=pages)
    out["rss_peak_mb"] = maxrss_mb()
    return out


def context(mode: SyncMode, run_id: int) -> RunContext:
    return RunContext(request_id=run_id, run_id=run_id, mode=mode, mode_reason="bench", attempt=1)


async def sync_child(
    server: JsonServer, data_dir: Path, records: int, *, change: bool
) -> dict[str, Any]:
    """A full sync into the data directory's (empty) replica; with `change`, then 0.1% of
    the records changed and an incremental sync."""
    out: dict[str, Any] = {"rss_start_mb": maxrss_mb()}
    settings = settings_of(data_dir)
    service = load_services(settings)[ENTITY]
    out["batch_size"] = settings.sync.batch_size

    mode, reason = await service.resolve_mode(SyncMode.AUTO)  # builds the service, untimed
    assert mode == SyncMode.FULL, (mode, reason)
    out["rss_built_mb"] = maxrss_mb()
    t0, c0, s0 = time.perf_counter(), cpu_s(), cpu_seconds(server.pid)
    counts = await service.run(context(SyncMode.FULL, 1))
    out["full_s"] = time.perf_counter() - t0
    out["full_cpu_s"] = cpu_s() - c0
    out["full_server_cpu_s"] = cpu_seconds(server.pid) - s0
    out["full_counts"] = msgspec.structs.asdict(counts)
    out["rss_after_full_mb"] = maxrss_mb()
    if not change:
        out["rss_peak_mb"] = maxrss_mb()
        return out

    t0 = time.perf_counter()
    ids = changed_ids(records)
    for i in ids:
        server.patch(f"{ENTITY}/{i}", changes(i))
    server.settle()
    out["changed"], out["change_s"] = len(ids), time.perf_counter() - t0
    mode, reason = await service.resolve_mode(SyncMode.AUTO)
    assert mode == SyncMode.INCREMENTAL, (mode, reason)
    out["incremental_reason"] = reason
    t0, c0, s0 = time.perf_counter(), cpu_s(), cpu_seconds(server.pid)
    counts = await service.run(context(SyncMode.INCREMENTAL, 2))
    out["incremental_s"] = time.perf_counter() - t0
    out["incremental_cpu_s"] = cpu_s() - c0
    out["incremental_server_cpu_s"] = cpu_seconds(server.pid) - s0
    out["incremental_counts"] = msgspec.structs.asdict(counts)
    out["rss_peak_mb"] = maxrss_mb()
    return out
