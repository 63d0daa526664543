"""The one sync engine behind every entity service: full, incremental and auto.

The engine pulls pages from a `Source` on the event loop and hands each page
to a `ReplicaWriter` on its own worker thread, so validation and writes never
hold up the loop (principle 11). Cancellation is checked between pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from core.errors import SourceInterrupted
from core.models import RunCounts, SyncMode
from core.services.base import RunContext
from core.services.entities import EntitySpec
from core.sources.base import BlockingSource, Source
from core.store.replica_sqlite import ReplicaWriter, SyncState

T = TypeVar("T")

PROGRESS_EVERY_S = 0.05
"""A worker thread reports progress at most this often (each report wakes the event loop)."""


@dataclass(frozen=True)
class EngineSettings:
    batch_size: int = 2000
    full_threshold: float = 0.7
    full_every_s: float = 24 * 3600


def choose_mode(
    requested: SyncMode, state: SyncState, spec: EntitySpec, now: float, settings: EngineSettings
) -> tuple[SyncMode, str]:
    """Auto picks full when incremental could be wrong or stale, else incremental."""
    if requested != SyncMode.AUTO:
        return requested, f"{requested.value} requested"
    if state.cursor is None:
        return SyncMode.FULL, "no cursor yet"
    if state.needs_full:
        return SyncMode.FULL, state.needs_full
    if state.mapping_version != spec.mapping_version:
        return (
            SyncMode.FULL,
            f"mapping version changed ({state.mapping_version} -> {spec.mapping_version})",
        )
    if state.last_full_at is None or now - state.last_full_at > settings.full_every_s:
        hours = settings.full_every_s / 3600
        return SyncMode.FULL, f"last full run older than {hours:g} h"
    return SyncMode.INCREMENTAL, f"cursor {state.cursor}"


def add_counts(a: RunCounts, b: RunCounts) -> RunCounts:
    return RunCounts(**{k: getattr(a, k) + getattr(b, k) for k in RunCounts.__struct_fields__})


class EntitySyncService:
    """Syncs one entity from `source` into the replica in the store database at `db_path`."""

    def __init__(
        self,
        spec: EntitySpec,
        source: Callable[[], Source],
        db_path: Path,
        settings: EngineSettings | None = None,
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self._source_factory = source
        self._db_path = db_path
        self.settings = settings or EngineSettings()

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        def read() -> SyncState:
            writer = ReplicaWriter(self._db_path, self.spec)
            try:
                return writer.state()
            finally:
                writer.close()

        state = await asyncio.to_thread(read)
        return choose_mode(requested, state, self.spec, time.time(), self.settings)

    async def run(self, ctx: RunContext) -> RunCounts:
        executor = ThreadPoolExecutor(1, thread_name_prefix=f"sync-{self.name}")
        loop = asyncio.get_running_loop()

        async def call(fn: Callable[..., T], *args: Any) -> T:
            return await loop.run_in_executor(executor, fn, *args)

        writer = await call(ReplicaWriter, self._db_path, self.spec)
        source = self._source_factory()
        try:
            return await self._run(ctx, writer, source, call)
        finally:
            await source.close()
            # The writer's thread may still be finishing a batch if we were cancelled hard:
            # closing through the same thread waits for it, and that batch is atomic anyway.
            executor.submit(writer.close)
            executor.shutdown(wait=False)

    async def _run(
        self,
        ctx: RunContext,
        writer: ReplicaWriter,
        source: Source,
        call: Callable[..., Any],
    ) -> RunCounts:
        full = ctx.mode == SyncMode.FULL
        state: SyncState = await call(writer.state)
        since = None if full else state.cursor
        live_before = 0
        if full:
            live_before = await call(writer.live_rows)
            await call(writer.begin_full)
        total = await source.estimate(self.name, since)
        phase = "full listing" if full else f"changes since {since}"
        ctx.report(phase, 0, total)
        counts: RunCounts
        if isinstance(source, BlockingSource):
            stop = threading.Event()
            try:
                counts = await call(self._pump, ctx, writer, source, since, total, phase, stop)
            finally:
                stop.set()  # a cancelled or timed-out run: the pump stops at its next check
        else:
            counts = await self._pull(ctx, writer, source, since, total, phase, call)
        if full:
            ctx.check_cancelled()
            ctx.report("reconciling deletions", counts.fetched, counts.fetched)
            deleted = await call(
                writer.finish_full,
                self.spec.mapping_version,
                counts.fetched,
                live_before,
                self.settings.full_threshold,
            )
            counts = msgspec.structs.replace(counts, deleted=deleted)
            if writer.keyless_rejected:
                ctx.report(
                    f"deletions skipped: {writer.keyless_rejected} records had no key",
                    counts.fetched,
                    counts.fetched,
                )
        return counts

    def _pump(
        self,
        ctx: RunContext,
        writer: ReplicaWriter,
        source: BlockingSource,
        since: str | None,
        total: int | None,
        phase: str,
        stop: threading.Event,
    ) -> RunCounts:
        """Read and write every page in this worker thread (a source that allows it)."""
        counts = RunCounts()
        token: str | None = None
        reported = 0.0
        while True:
            ctx.check_cancelled()
            if stop.is_set():
                raise SourceInterrupted("the run was stopped")
            page = source.page_blocking(self.name, since, token, self.settings.batch_size, stop)
            result = writer.apply(page, ctx.run_id)
            counts = add_counts(counts, result.counts)
            now = time.monotonic()
            if page.next is None or now - reported >= PROGRESS_EVERY_S:
                reported = now
                ctx.report(phase, counts.fetched, max(total or 0, counts.fetched) or None)
            if page.next is None:
                return counts
            token = page.next

    async def _pull(
        self,
        ctx: RunContext,
        writer: ReplicaWriter,
        source: Source,
        since: str | None,
        total: int | None,
        phase: str,
        call: Callable[..., Any],
    ) -> RunCounts:
        """Read pages on the event loop, write them in the writer's thread."""
        counts = RunCounts()
        size = self.settings.batch_size
        # The next page is fetched while this one is written: source and writer overlap.
        fetching = asyncio.ensure_future(source.page(self.name, since, None, size))
        try:
            while True:
                page = await fetching
                if page.next is not None:
                    fetching = asyncio.ensure_future(source.page(self.name, since, page.next, size))
                ctx.check_cancelled()
                result = await call(writer.apply, page.records, ctx.run_id)
                counts = add_counts(counts, result.counts)
                ctx.report(phase, counts.fetched, max(total or 0, counts.fetched) or None)
                if page.next is None:
                    break
        finally:
            if not fetching.done():
                fetching.cancel()
                with contextlib.suppress(BaseException):
                    await fetching
        return counts
