"""The service protocol: what the orchestrator runs.

A service syncs one entity. The orchestrator owns when, how often and with
what outcome; the service owns how. It reports progress through its
`RunContext`, checks for cancellation between batches, and signals a failure
worth retrying by raising `TransientError`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import msgspec

from core.errors import SyncCancelled
from core.models import Progress, RunCounts, SyncMode
from core.replica.base import Fence


class RunContext(msgspec.Struct):
    """Handed to `SyncService.run`: the run's identity, its cancel flag and its progress sink.

    `cancelled` and `report` are safe to call from a worker thread, so bulk work
    can stay off the event loop (principle 11).
    """

    request_id: int
    run_id: int
    mode: SyncMode
    mode_reason: str
    attempt: int
    fence: Fence | None = None
    """The runner's lease, which every replica commit of this run is fenced by."""
    committed: RunCounts = msgspec.field(default_factory=RunCounts)
    """What the run's committed batches wrote so far: the run's counts even if it fails."""
    on_progress: Callable[[Progress], None] | None = None
    """Where `report` sends progress; None: nowhere."""
    loop: asyncio.AbstractEventLoop | None = None
    """The event loop `on_progress` must run on: a report from another thread is handed to it."""
    _cancel: threading.Event = msgspec.field(default_factory=threading.Event)
    _started: float = msgspec.field(default_factory=time.monotonic)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise SyncCancelled(f"run #{self.run_id} cancelled")

    def report(
        self, phase: str, done: int, total: int | None = None, rate: float | None = None
    ) -> None:
        """Progress: rows done out of total; rows per second is worked out here unless given."""
        if rate is None:
            elapsed = time.monotonic() - self._started
            rate = done / elapsed if elapsed > 0 else None
        sink = self.on_progress
        if sink is None:
            return
        progress = Progress(phase=phase, done=done, total=total, rate=rate)
        loop = self.loop
        if loop is not None and _off_loop(loop):
            loop.call_soon_threadsafe(sink, progress)
        else:
            sink(progress)

    def add_committed(self, counts: RunCounts) -> None:
        """A batch committed (called from the writer's thread; one writer per run)."""
        self.committed = self.committed + counts

    def request_cancel(self) -> None:
        self._cancel.set()


def _off_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is not loop
    except RuntimeError:
        return True


@runtime_checkable
class SyncService(Protocol):
    """One entity's sync. Register instances with the orchestrator by `name`."""

    name: str

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        """The mode this run will use, and why (auto picks full or incremental)."""
        ...

    async def run(self, ctx: RunContext) -> RunCounts:
        """Do the sync; return its counts. Raise TransientError for retryable failures."""
        ...
