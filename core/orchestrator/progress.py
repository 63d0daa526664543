"""The active run's progress: to this process at once, to every other within
`progress_persist_s`, and watched for a stall.

`ProgressKeeper.report` takes each report of the run this runner supervises:
- it publishes it on this process's bus at once (a `run.progress` event with id 0):
  the figures this process's console shows;
- it stores it in the run's row (fenced by the run's epoch, announced in the log) at
  most every `progress_persist_s`, and always the last one: a report that came too soon
  is stored when its turn comes, so the figures from just before a hang reach every
  process. One write at a time, of the latest report. A report that did not move (the
  phase, done and total of the one stored) is not stored, so the stored report's
  `recorded_at` is when the run last moved.

`ProgressKeeper.watch` (the runner's heartbeat) decides the run's condition by the rule
every process applies to the store (`core.health.run_condition`) and appends one
`run.stalled` event per stall: in the log (every process's event pane), and to this
process's listener (a webhook notification, sent by the runner alone).

Failures: `report` raises nothing (a write that fails is mended by the next report; the
run's record is what must land); `watch` raises the store's errors (the heartbeat's).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from core.health import STALLED, RunCondition, run_condition
from core.models import Event, EventKind, Progress
from core.orchestrator.supervise import SupervisedRun
from core.store.base import Store

log = logging.getLogger(__name__)

Publish = Callable[[list[Event]], None]
Spawn = Callable[[Coroutine[Any, Any, None]], None]


def moved(stored: Progress | None, report: Progress) -> bool:
    """Whether `report` says something the stored one does not (its rate aside)."""
    if stored is None:
        return True
    return (stored.phase, stored.done, stored.total) != (report.phase, report.done, report.total)


class ProgressKeeper:
    """Progress reports of the runner's active run: published, stored, watched."""

    def __init__(
        self,
        store: Store,
        *,
        persist_s: float,
        stall_s: float,
        publish: Publish,
        note_local: Publish,
        spawn: Spawn,
    ) -> None:
        """`publish`: to this process's bus and listener; `note_local`: stored events
        already seen here; `spawn`: run a write as one of the runner's tasks."""
        self._store = store
        self._persist_s = persist_s
        self._stall_s = stall_s
        self._publish = publish
        self._note_local = note_local
        self._spawn = spawn

    def report(self, active: SupervisedRun, progress: Progress) -> None:
        """A report of `active`'s sync: shown here now, stored when its turn comes."""
        active.progress = progress
        run = active.run
        event = Event(
            at=datetime.now().astimezone(),
            kind=EventKind.RUN_PROGRESS,
            service=run.service,
            request_id=run.request_id,
            run_id=run.id,
            data=progress.figures(),
        )
        self._publish([event])
        self._store_soon(active)

    def _store_soon(self, active: SupervisedRun) -> None:
        if active.storing or active.task.done():
            return
        active.storing = True
        wait = active.last_persisted + self._persist_s - time.monotonic()
        self._spawn(self._store_latest(active, max(0.0, wait)))

    async def _store_latest(self, active: SupervisedRun, wait: float) -> None:
        """After `wait` (or as soon as the run ends: then nothing, and stopping the runner
        never waits on it), store the latest report if it moved, then again if a newer
        one came meanwhile."""
        progress = None
        try:
            if wait > 0:
                await asyncio.wait({active.task}, timeout=wait)
            progress = active.progress
            if progress is not None and not active.task.done() and moved(active.stored, progress):
                active.last_persisted = time.monotonic()
                await self._write(active, progress)
        finally:
            active.storing = False
        if active.progress is not progress:
            self._store_soon(active)

    async def _write(self, active: SupervisedRun, progress: Progress) -> None:
        run = active.run
        try:
            events = await self._store.record_progress(run.id, run.epoch, progress)
        except Exception as exc:  # the next report tries again
            log.debug("progress of run #%s not stored: %s", run.id, exc)
            return
        self._note_local(events)
        if events:  # none: the run has ended
            active.stored, active.moved_at, active.stall_told = progress, events[0].at, False

    async def watch(self, active: SupervisedRun | None, now: datetime) -> RunCondition | None:
        """The condition of the run this runner supervises (None: there is none), by the
        rule every process applies to what the store holds. The first call that finds it
        stalled appends `run.stalled`; a move, then another stall, tells again."""
        if active is None:
            return None
        run = active.run
        condition = run_condition(run.started_at, active.moved_at, now, self._stall_s, True)
        if condition.state == STALLED and not active.stall_told:
            stored = active.stored
            event = Event(
                at=now,
                kind=EventKind.RUN_STALLED,
                service=run.service,
                request_id=run.request_id,
                run_id=run.id,
                data={
                    "no_progress_s": round(condition.quiet_s, 1),
                    "stall_s": self._stall_s,
                    "done": None if stored is None else stored.done,
                    "total": None if stored is None else stored.total,
                },
            )
            self._publish(await self._store.append_events([event]))
            active.stall_told = True  # not before: a failed append is tried next beat
        return condition
