"""Stand-in services: they take time, report progress, honour cancellation and can fail.

They let the orchestrator, the daemon and the tests exercise every path before
(and beside) the real entity services, without touching any ERP.
"""

from __future__ import annotations

import asyncio
import random
import time

from core.errors import TransientError
from core.models import RunCounts, SyncMode
from core.replica.base import SyncState
from core.sync.modes import choose_mode
from core.sync.service import RunContext

STEPS = 20


class SimulatedService:
    """Waits `run_seconds` in `STEPS` steps, counting `rows` fetched rows."""

    def __init__(
        self,
        name: str,
        run_seconds: float = 2.0,
        rows: int = 1000,
        failure_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.name = name
        self.run_seconds = run_seconds
        self.rows = rows
        self.failure_rate = failure_rate
        self._random = random.Random(seed)
        self._state = SyncState(cursor=None, last_full_at=None, mapping_version=1, needs_full=None)
        """Kept in memory, as a replica would keep it: a completed full pass sets the cursor."""

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        # Never stale: a simulated full pass is as good as new (hence the infinite period).
        return choose_mode(requested, self._state, 1, time.time(), float("inf"))

    async def run(self, ctx: RunContext) -> RunCounts:
        rows = self.rows if ctx.mode == SyncMode.FULL else max(1, self.rows // 100)
        for step in range(1, STEPS + 1):
            ctx.check_cancelled()
            if self.run_seconds:
                await asyncio.sleep(self.run_seconds / STEPS)
            ctx.report("fetching", rows * step // STEPS, rows)
        if self._random.random() < self.failure_rate:
            raise TransientError(f"{self.name}: simulated ERP timeout")
        if ctx.mode == SyncMode.FULL:
            self._state = SyncState(
                cursor="simulated", last_full_at=time.time(), mapping_version=1, needs_full=None
            )
        return RunCounts(fetched=rows, unchanged=rows)
