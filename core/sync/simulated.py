"""Stand-in services: they take time, report progress, honour cancellation and can fail.

They let the orchestrator, the daemon and the tests exercise every path before
(and beside) the real entity services, without touching any ERP.
"""

from __future__ import annotations

import asyncio
import random

from core.errors import TransientError
from core.models import RunCounts, SyncMode
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
        self._has_run_full = False

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        if requested != SyncMode.AUTO:
            return requested, "requested"
        if not self._has_run_full:
            return SyncMode.FULL, "no cursor yet"
        return SyncMode.INCREMENTAL, "cursor present"

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
            self._has_run_full = True
        return RunCounts(fetched=rows, unchanged=rows)
