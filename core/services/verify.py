"""`syncdeck verify`: is my replica right? Compare it with the source, key by key."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.services.entities import EntitySpec
from core.sources.base import Source
from core.store.replica_sqlite import Drift, DriftChecker


async def verify_entity(
    spec: EntitySpec, source: Source, db_path: Path, page_size: int = 5000
) -> Drift:
    """Missing, extra and different rows between the source's full listing and the replica.

    The checker's SQLite connection lives on one thread of its own, like the sync engine's.
    """
    executor = ThreadPoolExecutor(1, thread_name_prefix=f"verify-{spec.name}")
    loop = asyncio.get_running_loop()
    try:
        checker = await loop.run_in_executor(executor, DriftChecker, db_path, spec)
        token: str | None = None
        while True:
            page = await source.page(spec.name, None, token, page_size)
            await loop.run_in_executor(executor, checker.add, page.records)
            if page.next is None:
                break
            token = page.next
        return await loop.run_in_executor(executor, checker.finish)
    finally:
        executor.shutdown(wait=False)
