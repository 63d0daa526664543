"""A snapshot of the orchestrator shared by the API's readers, taken again after any change.

Dashboards poll `GET /api/sync/status` many times a second between them; each answer
would otherwise read the store and rebuild the same document. The cache holds one
snapshot (and what routes derive from it, such as the encoded status body) until the
orchestrator's bus carries any event or `max_age_s` passes, whichever is first. The bus
carries every change in this process at once, and every other process's as the
orchestrator relays it from the store. So time-derived fields (waiting time, aging, an
expired lease) are never older than `max_age_s`. A change made through this API is
published before its call returns, so a client always reads its own writes. Concurrent
readers of a stale cache share one refresh. Failures of the store propagate to every
waiting reader and nothing is cached.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from core.models import Snapshot
from core.orchestrator import Orchestrator

T = TypeVar("T")

MAX_AGE_S = 0.5


class SnapshotCache:
    def __init__(self, orch: Orchestrator, max_age_s: float = MAX_AGE_S) -> None:
        self._orch = orch
        self._max_age_s = max_age_s
        self._changes = orch.events(maxsize=16)
        self._snapshot: Snapshot | None = None
        self._taken_at = 0.0
        self._derived: dict[str, Any] = {}
        self._refresh: asyncio.Future[Snapshot] | None = None

    async def get(self) -> Snapshot:
        changed = bool(self._changes.pending())
        fresh = time.monotonic() - self._taken_at < self._max_age_s
        if self._snapshot is not None and fresh and not changed:
            return self._snapshot
        if self._refresh is None:  # one reader refreshes, the others wait for it
            self._refresh = asyncio.ensure_future(self._take())
        refresh = self._refresh
        try:
            return await asyncio.shield(refresh)
        finally:
            if self._refresh is refresh and refresh.done():
                self._refresh = None

    async def _take(self) -> Snapshot:
        snapshot = await self._orch.snapshot()
        self._snapshot, self._taken_at, self._derived = snapshot, time.monotonic(), {}
        return snapshot

    async def derive(self, name: str, build: Callable[[Snapshot], T]) -> T:
        """`build(snapshot)`, computed once per snapshot."""
        snapshot = await self.get()
        if snapshot is not self._snapshot:  # refreshed meanwhile: do not mix generations
            return build(snapshot)
        if name not in self._derived:
            self._derived[name] = build(snapshot)
        value: T = self._derived[name]
        return value

    def close(self) -> None:
        self._changes.close()
