"""One run's supervision: its cancel, its timeout, how it ended, and what to record.

The runner starts a sync task and wraps it in an `SupervisedRun`. From then on a
run stops in one of three ways: an operator's cancel (`ask_cancel`: cooperative
first, the task cancelled by force `cancel_grace_s` later), the runner stopping
or losing its lease (`interrupt`: at once), or its own end, success, failure or
the run timeout. `await_ending` waits for it and turns every way a task can end
into an `Ending`. `finish_for` turns that into the `RunFinish` the store applies
in one transaction: the retry decision, and the breaker decision injected as a
function of the state the store reads inside it.

Failures: none of these raise for a failing sync (that is what `Ending` is
for); `await_ending` always leaves the sync task finished, even one that
ignores cancellation, before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

import msgspec

from core import queue_order
from core.breaker import BreakerRules, after_run
from core.config import RetrySettings
from core.errors import LeaseLost, StoreUnwritable, SyncCancelled, TransientError
from core.models import Event, Progress, RunCounts, RunOutcome, RunRecord, ServiceState, SyncRequest
from core.orchestrator.faults import StoreHealth
from core.store.base import RunFinish, Store
from core.sync.service import RunContext

log = logging.getLogger("core.orchestrator")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    ConnectionError,
    TimeoutError,
    StoreUnwritable,
)
RECORD_BACKOFF_S = (0.2, 5.0)
"""Retrying a record the store refused: the first wait, and the longest."""


class SupervisedRun(msgspec.Struct):
    """The run this process started and still supervises."""

    request: SyncRequest
    run: RunRecord
    ctx: RunContext
    task: asyncio.Task[RunCounts]
    progress: Progress | None = None
    """Its latest report (`core.orchestrator.progress` keeps the fields below)."""
    hard_cancel: asyncio.TimerHandle | None = None
    stop_reason: RunOutcome | None = None
    last_persisted: float = 0.0
    """Monotonic time of the last progress write."""
    storing: bool = False
    """A progress write is due or under way (it writes the latest report when it runs)."""
    stored: Progress | None = None
    """The last report the store took."""
    moved_at: datetime | None = None
    """When the store took it (its clock): when the run last moved, as every process sees."""
    stall_told: bool = False
    """`run.stalled` was appended for the current stall (reset when the run moves)."""

    def ask_cancel(self, grace_s: float) -> None:
        """An operator's cancel: ask the sync to stop, and cancel its task after `grace_s`."""
        if self.ctx.cancelled:
            return
        self.ctx.request_cancel()
        if self.stop_reason is None:
            self.stop_reason = RunOutcome.CANCELLED
        loop = asyncio.get_running_loop()
        self.hard_cancel = loop.call_later(grace_s, self.task.cancel)

    def interrupt(self) -> None:
        """The runner stops or lost its lease: stop now; the run is recorded as interrupted."""
        self.stop_reason = RunOutcome.INTERRUPTED
        self.ctx.request_cancel()
        self.task.cancel()


class Ending(msgspec.Struct, frozen=True):
    outcome: RunOutcome
    counts: RunCounts = msgspec.field(default_factory=RunCounts)
    transient: bool = False
    """Worth another try (the retry budget permitting)."""
    error_class: str | None = None
    error: str | None = None


async def await_ending(active: SupervisedRun, timeout_s: float) -> Ending:
    """Wait for the sync task (at most `timeout_s`) and say how it ended."""
    try:
        counts = await asyncio.wait_for(asyncio.shield(active.task), timeout_s)
        ending = Ending(RunOutcome.SUCCEEDED, counts)
    except (TimeoutError, asyncio.CancelledError, Exception) as exc:
        ending = classify(active, exc, timeout_s)
        # What the committed batches wrote stays written: the record says so.
        ending = Ending(
            ending.outcome, active.ctx.committed, ending.transient, ending.error_class, ending.error
        )
    finally:
        if active.hard_cancel is not None:
            active.hard_cancel.cancel()
        if not active.task.done():
            active.task.cancel()
            with contextlib.suppress(BaseException):
                await active.task
    return ending


def classify(active: SupervisedRun, exc: BaseException, timeout_s: float) -> Ending:
    """How a run that raised `exc` ended: who stopped it, or whether to retry it."""
    if isinstance(exc, LeaseLost):  # a fenced commit refused: another runner may be on
        return Ending(RunOutcome.INTERRUPTED, error_class="Interrupted", error=str(exc))
    if active.stop_reason is not None and (
        isinstance(exc, (asyncio.CancelledError, SyncCancelled)) or active.ctx.cancelled
    ):
        if active.stop_reason == RunOutcome.INTERRUPTED:
            why = "runner stopped while the sync ran"
            return Ending(RunOutcome.INTERRUPTED, error_class="Interrupted", error=why)
        why = "cancelled by an operator"
        return Ending(RunOutcome.CANCELLED, error_class="Cancelled", error=why)
    if isinstance(exc, TimeoutError) and not active.task.done():
        why = f"run exceeded its {timeout_s:g}s timeout"
        return Ending(RunOutcome.TIMED_OUT, transient=True, error_class="Timeout", error=why)
    if isinstance(exc, asyncio.CancelledError):
        why = "the sync task was cancelled"
        return Ending(RunOutcome.FAILED, error_class="Cancelled", error=why)
    transient = isinstance(exc, TRANSIENT_ERRORS)
    return Ending(RunOutcome.FAILED, RunCounts(), transient, type(exc).__name__, str(exc))


def finish_for(
    active: SupervisedRun,
    ending: Ending,
    epoch: int,
    retry: RetrySettings,
    breaker_rules: BreakerRules,
) -> RunFinish:
    """What the store records for `ending`, fenced by `epoch`."""
    attempt = active.request.attempt
    retry_in_s: float | None = None
    if ending.outcome == RunOutcome.INTERRUPTED:
        retry_in_s = 0.0  # interrupted by us stopping: run again as soon as someone can
    elif ending.transient and attempt < retry.tries:
        retry_in_s = queue_order.retry_delay(attempt, retry.backoff_s)
    outcome = ending.outcome
    return RunFinish(
        run_id=active.run.id,
        epoch=epoch,
        outcome=outcome,
        counts=ending.counts,
        error_class=ending.error_class,
        error=ending.error,
        retry_in_s=retry_in_s,
        breaker=lambda state, now: after_run(state, outcome, now, breaker_rules),
    )


async def record(
    store: Store,
    active: SupervisedRun,
    ending: Ending,
    retry: RetrySettings,
    breaker_rules: BreakerRules,
    store_health: StoreHealth,
    giving_up: Callable[[], bool],
) -> tuple[ServiceState | None, list[Event]]:
    """Record how the run ended, fenced by the epoch it started under.

    While the store refuses writes (`StoreUnwritable`: a full disk), try again with
    backoff until it takes the record or `giving_up()` says to stop; the run stays
    this runner's meanwhile, so nothing else starts. Giving up loses nothing: the next
    holder's takeover records the run interrupted and queues it again. Returns the
    service as it now is and the events, or (None, []) when it gave up.
    Raises LeaseLost (another runner took over), StoreBroken, other StoreErrors."""
    finish = finish_for(active, ending, active.run.epoch, retry, breaker_rules)
    delay, longest = RECORD_BACKOFF_S
    while True:
        try:
            _, _, service, events = await store.finish_run(finish)
        except StoreUnwritable as exc:
            store_health.failed(exc)
            if giving_up():
                log.warning("run #%s not recorded (%s); the next runner will", active.run.id, exc)
                return None, []
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)
            continue
        store_health.succeeded()
        return service, events


async def missing_service(name: str, holder: str) -> RunCounts:
    """The run of a request for a service this runner does not have: it fails, saying so."""
    raise LookupError(f"service {name!r} is not registered in the runner {holder}")
