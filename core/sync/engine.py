"""The one sync engine behind every entity service: full, incremental and auto.

The engine pulls pages from a `Source` on the event loop and hands each page to
a worker thread of its run, which decodes it (`core.sync.codec`) and writes it
to the run's `ReplicaTarget`, so validation and writes never hold up the loop
(principle 11). A source that can be read from a thread (`BlockingSource`) is
read in the worker. A target may ask (`ReplicaTarget.read_ahead`: PostgreSQL's,
whose writes wait on the server) for pages read and decoded one page ahead on a
reader thread of the run, through a one-slot queue, while the worker writes the
page before. Pages still commit in order, each with its cursor in one fenced
transaction. Cancellation is checked between pages. The engine knows the
replica only by its protocol (`core.replica.base`), through a `RunWriter`
(`core.sync.writer`), which decides, once for every backend, where each page
leaves the cursor (a listing not in cursor order moves it only when it
completes) and whether a full pass may reconcile deletions.
A test's hook, `before_batch_commit`, is told each batch's number in its run
just before the batch is written, outside its transaction; none by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec

from core.entities import EntitySpec
from core.errors import SourceInterrupted
from core.models import RunCounts, SyncMode
from core.replica.base import Batch, BatchResult, Replica, SyncState
from core.sources.base import BlockingSource, KeyOrderedSource, ShiftingSource, Source
from core.sync.modes import choose_mode
from core.sync.service import RunContext
from core.sync.writer import RunWriter

T = TypeVar("T")

ITEM_CHECKS = 100
"""Rows a full pass missed that the engine asks the source about, one request each."""
PROGRESS_EVERY_S = 0.05
"""A worker thread reports progress at most this often (each report wakes the event loop)."""


class _Tally:
    """A pass's counts so far, reported at most every `PROGRESS_EVERY_S` and at its end."""

    def __init__(self, ctx: RunContext, phase: str, total: int | None) -> None:
        self.counts = RunCounts()
        self._ctx, self._phase, self._total = ctx, phase, total
        self._reported = 0.0

    def add(self, counts: RunCounts, last: bool) -> None:
        self.counts = self.counts + counts
        now = time.monotonic()
        if last or now - self._reported >= PROGRESS_EVERY_S:
            self._reported = now
            done = self.counts.fetched
            self._ctx.report(self._phase, done, max(self._total or 0, done) or None)


@dataclass(frozen=True)
class EngineSettings:
    batch_size: int = 2000
    full_threshold: float = 0.7
    full_every_s: float = 24 * 3600


class EntitySyncService:
    """Syncs one entity from `source` into `replica`."""

    def __init__(
        self,
        spec: EntitySpec,
        source: Callable[[], Source],
        replica: Replica,
        settings: EngineSettings | None = None,
        *,
        before_batch_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self._source_factory = source
        self._replica = replica
        self.settings = settings or EngineSettings()
        self._before_batch_commit = before_batch_commit

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        def read() -> SyncState:
            target = self._replica.target(self.spec)
            try:
                return target.state()
            finally:
                target.close()

        state = await asyncio.to_thread(read)
        return choose_mode(
            requested, state, self.spec.mapping_version, time.time(), self.settings.full_every_s
        )

    async def run(self, ctx: RunContext) -> RunCounts:
        executor = ThreadPoolExecutor(1, thread_name_prefix=f"sync-{self.name}")
        loop = asyncio.get_running_loop()

        async def call(fn: Callable[..., T], *args: Any) -> T:
            return await loop.run_in_executor(executor, fn, *args)

        def open_writer() -> RunWriter:
            target = self._replica.target(self.spec, ctx.fence)
            try:
                return RunWriter(target, self.spec, ctx.add_committed, self._before_batch_commit)
            except BaseException:
                target.close()
                raise

        writer = await call(open_writer)
        source = self._source_factory()
        try:
            return await self._run(ctx, writer, source, call)
        finally:
            await source.close()
            # The writer's thread may still be finishing a batch if we were cancelled hard:
            # closing through the same thread waits for it, and that batch is atomic anyway.
            executor.submit(writer.target.close)
            executor.shutdown(wait=False)

    async def _run(
        self,
        ctx: RunContext,
        writer: RunWriter,
        source: Source,
        call: Callable[..., Any],
    ) -> RunCounts:
        full = ctx.mode == SyncMode.FULL
        state: SyncState = await call(writer.target.state)
        since = None if full else self._since(state)
        live_before = 0
        if full:
            live_before = await call(writer.target.live_rows)
            await call(writer.begin_full)
            if isinstance(source, KeyOrderedSource):
                writer.cap_cursor(await source.high_water(self.name))
        total = await source.estimate(self.name, since)
        phase = "full listing" if full else f"changes since {since or 'the start'}"
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
        ctx.check_cancelled()
        await call(writer.release_cursor, ctx.run_id, state.horizon)
        if full:
            ctx.check_cancelled()
            ctx.report("reconciling deletions", counts.fetched, counts.fetched)
            twice, gone = False, []
            if isinstance(source, ShiftingSource) and source.listing_may_skip(self.name):
                twice, gone = True, await self._gone(writer, source, call)
            deleted = await call(
                writer.finish_full,
                self.spec.mapping_version,
                counts.fetched,
                live_before,
                self.settings.full_threshold,
                twice,
                gone,
            )
            counts = msgspec.structs.replace(counts, deleted=deleted)
            if writer.keyless_rejected:
                ctx.report(
                    f"deletions skipped: {writer.keyless_rejected} records had no key",
                    counts.fetched,
                    counts.fetched,
                )
        return counts

    async def _gone(
        self, writer: RunWriter, source: ShiftingSource, call: Callable[..., Any]
    ) -> list[str]:
        """The rows this pass missed for the first time that the source says are gone (at
        most `ITEM_CHECKS`, one request each): deleted now rather than after another pass."""
        gone: list[str] = []
        missed: list[tuple[str, tuple[str, ...]]] = await call(writer.missed, ITEM_CHECKS)
        for sync_key, parts in missed:
            answer = await source.item_gone(self.name, parts)
            if answer is None:
                break  # the source cannot tell: the next full pass decides
            if answer:
                gone.append(sync_key)
        return gone

    def _since(self, state: SyncState) -> str | None:
        """Where an incremental listing starts: the horizon the last listing left, if its
        source keeps one, else the stored cursor less the entity's lookback (late commits,
        principle 7)."""
        spec, cursor = self.spec, state.cursor
        if state.horizon is not None:
            return state.horizon
        if cursor is None or not spec.lookback_s:
            return cursor
        from core.sync.kinds import reread_from

        return reread_from(cursor, spec.kinds[spec.cursor], spec.lookback_s)

    def _pump(
        self,
        ctx: RunContext,
        writer: RunWriter,
        source: BlockingSource,
        since: str | None,
        total: int | None,
        phase: str,
        stop: threading.Event,
    ) -> RunCounts:
        """Read and write every page in this worker thread (a source that allows it); when
        the target asks for it (`read_ahead`), a reader thread fetches and decodes the next
        page meanwhile, so the server's work on page N overlaps Python's on page N+1.
        Pages are written in order, one transaction each."""
        if not writer.target.read_ahead:
            return self._pump_inline(ctx, writer, source, since, total, phase, stop)
        ahead: queue.Queue[tuple[Batch, bool] | BaseException] = queue.Queue(maxsize=1)
        reader = threading.Thread(
            target=self._read_ahead,
            args=(ctx, writer, source, since, stop, ahead),
            name=f"sync-{self.name}-read",
            daemon=True,
        )
        reader.start()
        tally = _Tally(ctx, phase, total)
        try:
            while True:
                try:
                    item = ahead.get(timeout=0.05)
                except queue.Empty:
                    if stop.is_set():  # stopped from outside: the reader hands over nothing
                        raise SourceInterrupted("the run was stopped") from None
                    continue
                if isinstance(item, BaseException):
                    raise item
                batch, last = item
                ctx.check_cancelled()
                if stop.is_set():
                    raise SourceInterrupted("the run was stopped")
                tally.add(writer.commit(batch, ctx.run_id).counts, last)
                if last:
                    return tally.counts
        finally:
            stop.set()  # the reader stops at its next check, holding no page
            reader.join()

    def _pump_inline(
        self,
        ctx: RunContext,
        writer: RunWriter,
        source: BlockingSource,
        since: str | None,
        total: int | None,
        phase: str,
        stop: threading.Event,
    ) -> RunCounts:
        tally = _Tally(ctx, phase, total)
        token: str | None = None
        while True:
            ctx.check_cancelled()
            if stop.is_set():
                raise SourceInterrupted("the run was stopped")
            page = source.page_blocking(self.name, since, token, self.settings.batch_size, stop)
            tally.add(writer.write(page, ctx.run_id).counts, page.next is None)
            if page.next is None:
                return tally.counts
            token = page.next

    def _read_ahead(
        self,
        ctx: RunContext,
        writer: RunWriter,
        source: BlockingSource,
        since: str | None,
        stop: threading.Event,
        ahead: queue.Queue[tuple[Batch, bool] | BaseException],
    ) -> None:
        """The reader of `_pump`: pages in order into `ahead` (one slot), then stops; an
        error is handed over in place of a page."""
        token: str | None = None
        try:
            while not stop.is_set():
                ctx.check_cancelled()
                page = source.page_blocking(self.name, since, token, self.settings.batch_size, stop)
                item: tuple[Batch, bool] | BaseException = (writer.prepare(page), page.next is None)
                while not stop.is_set():
                    with contextlib.suppress(queue.Full):
                        ahead.put(item, timeout=0.05)
                        break
                if page.next is None:
                    return
                token = page.next
        except BaseException as exc:  # handed to the writer, which raises it
            while not stop.is_set():
                with contextlib.suppress(queue.Full):
                    ahead.put(exc, timeout=0.05)
                    return

    async def _pull(
        self,
        ctx: RunContext,
        writer: RunWriter,
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
                result: BatchResult = await call(writer.write, page, ctx.run_id)
                counts = counts + result.counts
                ctx.report(phase, counts.fetched, max(total or 0, counts.fetched) or None)
                if page.next is None:
                    break
        finally:
            if not fetching.done():
                fetching.cancel()
                with contextlib.suppress(BaseException):
                    await fetching
        return counts
