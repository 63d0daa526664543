"""The orchestrator: the public face of the core, and the runner loop behind it.

Every process that opens the store gets an `Orchestrator`. All of them accept
requests, cancels, priority changes and pauses, which go straight to the store
and return at once (principle 3). Only the process that holds the runner lease
starts syncs, one at a time (principle 2); the others watch the store and
relay its event log to their own subscribers.

    async with Orchestrator(store, services, settings) as orch:
        request = await orch.request("orders", mode="full")
        result = await orch.wait(request.id)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec

from core import health as health_rules
from core import policy
from core.config import Settings
from core.errors import (
    InvalidTransition,
    LeaseLost,
    NotFound,
    SyncCancelled,
    TransientError,
    UnknownService,
)
from core.events import EventBus, Subscription
from core.models import (
    ActiveRun,
    CircuitState,
    Controls,
    Event,
    EventKind,
    Lease,
    Progress,
    QueueEntry,
    RequestResult,
    RequestSource,
    RequestState,
    RunCounts,
    RunOutcome,
    RunRecord,
    ServiceState,
    ServiceView,
    Snapshot,
    SyncMode,
    SyncRequest,
)
from core.scheduler import Schedule, SchedulePlan, plan_for
from core.services.base import RunContext, SyncService
from core.store.base import RunFinish, RunStart, RunStats, Store, StoreView

log = logging.getLogger(__name__)

RUNNER_TASK = "syncdeck-runner"

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (TransientError, ConnectionError, TimeoutError)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class _Active:
    request: SyncRequest
    run: RunRecord
    ctx: RunContext
    task: asyncio.Task[RunCounts]
    progress: Progress | None = None
    hard_cancel: asyncio.TimerHandle | None = None
    stop_reason: RunOutcome | None = None
    last_persisted: float = field(default=0.0)


class Orchestrator:
    """One sync at a time across every process sharing `store`."""

    def __init__(
        self,
        store: Store,
        services: Mapping[str, SyncService],
        settings: Settings | None = None,
        *,
        runner: bool = True,
        schedule: bool = True,
    ) -> None:
        self.store = store
        self.settings = settings or Settings()
        self._services = dict(services)
        self._cfg = self.settings.orchestrator
        self._circuit_policy = health_rules.CircuitPolicy(
            self._cfg.circuit.failure_threshold, self._cfg.circuit.cooldown_s
        )
        self._wants_runner = runner
        self._wants_schedule = schedule and runner
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.holder_id = f"{self.host}:{self.pid}:{secrets.token_hex(3)}"
        self._bus = EventBus()
        self._lease: Lease | None = None
        self._active: _Active | None = None
        self._wake = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._started = False
        self._last_event_id = 0
        self._local_ids: set[int] = set()
        self._relay_lock = asyncio.Lock()
        self._ended: dict[int, asyncio.Event] = {}
        self._remote_progress: OrderedDict[int, Progress] = OrderedDict()
        self._schedule: Schedule | None = None
        self._started_at = datetime.min.replace(tzinfo=UTC)

    # -- lifecycle ----------------------------------------------------------

    async def __aenter__(self) -> Orchestrator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, *, defer_schedule: bool = False) -> None:
        """Open the store, register services, and start watching (and running, if a runner),
        then the schedule, unless `defer_schedule` leaves that to `start_schedule()`."""
        await self.store.open()
        await self.store.register_services(
            {name: self.settings.default_priority(name) for name in self._services}
        )
        self._last_event_id = await self.store.last_event_id()
        self._started_at = await self.store.now()
        self._started = True
        self._loops.append(asyncio.create_task(self._watch_loop(), name="syncdeck-watch"))
        if self._wants_runner:
            self._loops.append(asyncio.create_task(self._runner_loop(), name=RUNNER_TASK))
        if not defer_schedule:
            await self.start_schedule()

    async def start_schedule(self) -> None:
        """Start the periodic schedule, if this orchestrator keeps one and it is not running.

        Separate from `start()` because importing APScheduler is the largest single cost
        of starting (about 40 ms): a console starts the schedule after its first frame.
        Nothing is missed meanwhile: a tick that came due while it was not running fires
        once when it starts, and "next run" is computed without it."""
        if (
            not self._wants_schedule
            or self._schedule is not None
            or not self._started
            or self._stopping
        ):
            return
        schedule = Schedule(self._scheduled_request, self.settings.schedule.misfire_grace_s)
        self._schedule = schedule
        plans = self._plans(await self.store.services())
        schedule.apply(plans)
        schedule.start()
        now = await self.store.now()
        for plan in plans:  # APScheduler fires only ticks after now: catch up since start()
            if plan.enabled and plan.next_fire(self._started_at) <= now:
                await self._scheduled_request(plan.service)

    async def stop(self) -> None:
        """Stop watching and running. A run in progress is interrupted, recorded as such and
        queued again; the lease is released so another process takes over at once."""
        if not self._started:
            return
        self._stopping = True
        if self._schedule is not None:
            self._schedule.shutdown()
        # The runner loop is never cancelled mid-call (a lease or a run the store committed
        # would go unseen): woken, it ends its step and returns. The watcher only reads.
        self._wake.set()
        for loop_task in self._loops:
            if loop_task.get_name() != RUNNER_TASK:
                loop_task.cancel()
        for loop_task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop_task
        self._loops.clear()
        active = self._active
        if active is not None:
            active.stop_reason = RunOutcome.INTERRUPTED
            active.ctx.request_cancel()
            active.task.cancel()
        # Runs being stopped record themselves (interrupted, queued again) before the store closes.
        while self._tasks:
            task = self._tasks.pop()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._lease is not None:
            with contextlib.suppress(Exception):
                self._publish(await self.store.release_lease(self.holder_id))
            self._lease = None
        await self.store.close()
        self._started = False

    # -- public API -----------------------------------------------------------

    @property
    def is_runner(self) -> bool:
        return self._lease is not None

    @property
    def service_names(self) -> list[str]:
        return sorted(self._services)

    def events(self, maxsize: int = 10_000) -> Subscription:
        """Every event from now on, from this process and (via the store) all others."""
        return self._bus.subscribe(maxsize)

    async def request(
        self,
        service: str,
        mode: SyncMode | str = SyncMode.AUTO,
        priority: int | None = None,
        source: RequestSource | str = RequestSource.MANUAL,
    ) -> SyncRequest:
        """Queue a sync and return at once: the new request, or the queued one it merged into."""
        try:
            result = await self.store.enqueue(
                service, SyncMode(mode), priority, RequestSource(source)
            )
        except NotFound as exc:
            raise UnknownService(f"unknown service {service!r}; known: {self._known()}") from exc
        self._publish(result.events)
        self._wake.set()
        return result.request

    async def wait(self, request_id: int, timeout: float | None = None) -> RequestResult:
        """Wait until the request ends (finished or cancelled) and return it with its last run."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ended = self._ended.setdefault(request_id, asyncio.Event())
        try:
            while True:
                request = await self.store.get_request(request_id)
                if request.state.ended:
                    runs = await self.store.runs(request_id=request_id, limit=1)
                    return RequestResult(request=request, run=runs[0] if runs else None)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"request #{request_id} still {request.state.value}")
                ended.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        ended.wait(), 1.0 if remaining is None else min(1.0, remaining)
                    )
        finally:
            self._ended.pop(request_id, None)

    async def cancel(self, request_id: int) -> SyncRequest:
        """Cancel a queued request at once, or ask the running one to stop (cooperatively,
        then by force after `cancel_grace_s`)."""
        request, events = await self.store.cancel(request_id)
        self._publish(events)
        if request.state == RequestState.RUNNING:
            self._cancel_active_if(request.id)
        return request

    async def set_priority(self, request_id: int, priority: int) -> None:
        self._publish(await self.store.set_priority(request_id, priority))
        self._wake.set()

    async def set_default_priority(self, service: str, priority: int) -> None:
        self._check_service(service)
        self._publish(await self.store.set_default_priority(service, priority))

    async def pause(self) -> None:
        """Stop starting runs; requests are still accepted and queued."""
        self._publish(await self.store.set_controls(dispatch_paused=True))

    async def resume(self) -> None:
        self._publish(await self.store.set_controls(dispatch_paused=False))
        self._wake.set()

    async def pause_schedule(self) -> None:
        self._publish(await self.store.set_controls(schedule_paused=True))

    async def resume_schedule(self) -> None:
        self._publish(await self.store.set_controls(schedule_paused=False))

    async def set_schedule(
        self,
        service: str,
        interval_s: float | None = None,
        offset_s: float | None = None,
        enabled: bool | None = None,
    ) -> None:
        """Override a service's schedule (persisted); None returns a field to the configuration."""
        self._check_service(service)
        self._publish(await self.store.set_schedule(service, interval_s, offset_s, enabled))
        if self._schedule is not None:
            self._schedule.apply(self._plans(await self.store.services()))

    async def history(self, service: str | None = None, limit: int = 50) -> list[RunRecord]:
        if service is not None:
            self._check_service(service)
        return await self.store.runs(service=service, limit=limit)

    async def snapshot(self) -> Snapshot:
        view = await self.store.view()
        return self._snapshot_from(view)

    # -- internals: publishing ------------------------------------------------

    def _known(self) -> str:
        return ", ".join(self.service_names) or "none"

    def _check_service(self, service: str) -> None:
        if service not in self._services:
            raise UnknownService(f"unknown service {service!r}; known: {self._known()}")

    def _publish(self, events: list[Event]) -> None:
        for event in events:
            if event.id:
                self._local_ids.add(event.id)
        self._observe(events)
        self._bus.publish(events)

    def _observe(self, events: list[Event]) -> None:
        """Keep the few things a snapshot needs that only events carry, and wake waiters."""
        for event in events:
            if event.kind in (EventKind.REQUEST_FINISHED, EventKind.REQUEST_CANCELLED):
                waiter = self._ended.get(event.request_id or 0)
                if waiter is not None:
                    waiter.set()
            elif event.kind == EventKind.RUN_PROGRESS and event.run_id and self._active is None:
                self._remote_progress[event.run_id] = msgspec.convert(event.data, Progress)
                while len(self._remote_progress) > 8:
                    self._remote_progress.popitem(last=False)

    async def _watch_loop(self) -> None:
        """Relay other processes' events and notice their requests and cancels."""
        while not self._stopping:
            try:
                changed = await self.store.wait_for_change(1.0)
                if not changed or self._stopping:
                    continue
                await self._relay_remote_events()
                self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watching the store failed; retrying")
                await asyncio.sleep(1.0)

    async def _relay_remote_events(self) -> None:
        async with self._relay_lock:  # the watcher and the heartbeat both relay
            await self._relay_pending()

    async def _relay_pending(self) -> None:
        while True:
            events = await self.store.events_since(self._last_event_id, 1000)
            if not events:
                return
            remote = []
            for event in events:
                if event.id in self._local_ids:
                    self._local_ids.discard(event.id)
                else:
                    remote.append(event)
                    if (
                        event.kind == EventKind.REQUEST_CANCEL_ASKED
                        and event.request_id is not None
                    ):
                        self._cancel_active_if(event.request_id)
            self._last_event_id = events[-1].id
            self._local_ids = {i for i in self._local_ids if i > self._last_event_id}
            self._observe(remote)
            self._bus.publish(remote)
            if len(events) < 1000:
                return

    # -- internals: the runner ------------------------------------------------

    async def _runner_loop(self) -> None:
        next_heartbeat = 0.0
        while not self._stopping:
            timeout = self._cfg.heartbeat_s
            try:
                if time.monotonic() >= next_heartbeat:
                    await self._heartbeat()
                    next_heartbeat = time.monotonic() + self._heartbeat_interval()
                if self.is_runner and self._active is None:
                    wake_in = await self._dispatch()
                    if wake_in is not None:
                        timeout = min(timeout, wake_in)
                timeout = max(0.0, min(timeout, next_heartbeat - time.monotonic()))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("runner loop step failed; retrying")
                timeout = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()

    def _heartbeat_interval(self) -> float:
        if self.is_runner:
            return self._cfg.heartbeat_s
        # Followers poll for a free lease a little more often than the holder renews it.
        return min(self._cfg.heartbeat_s, max(0.2, self._cfg.lease_ttl_s / 10))

    def _holder_dead(self, lease: Lease) -> bool:
        """A holder on this host whose process is gone is dead before its lease expires."""
        return lease.host == self.host and lease.pid != self.pid and not process_alive(lease.pid)

    async def _heartbeat(self) -> None:
        steal_from = None
        if not self.is_runner:
            current = await self.store.lease()
            if current is not None and self._holder_dead(current):
                steal_from = current.holder
        result = await self.store.acquire_lease(
            self.holder_id, self.host, self.pid, self._cfg.lease_ttl_s, steal_from
        )
        had = self.is_runner
        self._lease = result.lease
        self._publish(result.events)
        if had and not self.is_runner:
            self._lease_lost()
        # Catch up with the event log even if no change was signalled: this also trims the
        # set of ids published locally, which would otherwise only grow.
        await self._relay_remote_events()
        if self.is_runner:
            states = await self.store.services()
            now = await self.store.now()
            for state in states:
                await self._update_health(state, now)
            if self._schedule is not None:
                self._schedule.apply(self._plans(states))
            await self.store.prune_events(self._cfg.event_retention)
            await self.store.checkpoint()

    def _lease_lost(self) -> None:
        """Another process took the lease: our run may no longer be recorded; stop it now."""
        log.warning("runner lease lost; stopping the active run")
        self._publish(
            [
                Event(
                    at=datetime.now().astimezone(),
                    kind=EventKind.LEASE_LOST,
                    data={"holder": self.holder_id, "reason": "taken over"},
                )
            ]
        )
        if self._active is not None:
            self._active.stop_reason = RunOutcome.INTERRUPTED
            self._active.ctx.request_cancel()
            self._active.task.cancel()

    async def _dispatch(self) -> float | None:
        """Start the best eligible request, if any. Returns seconds until the next one may
        become eligible (backoff or circuit cooldown), if that is what blocks it."""
        if self._stopping:
            return None
        view = await self.store.view(history=False)
        if view.controls.dispatch_paused or view.running is not None or not view.queued:
            return None
        states = {s.name: s for s in view.services}
        circuits = {name: s.circuit for name, s in states.items()}
        cooled = {
            name: health_rules.cooldown_over(s, view.now, self._circuit_policy)
            for name, s in states.items()
        }
        pick = policy.choose_next(view.queued, view.now, self._cfg.aging_step_s, circuits, cooled)
        if pick is None:
            return self._seconds_until_eligible(view)
        assert self._lease is not None
        service = self._services.get(pick.service)
        if service is None:
            mode, reason = pick.mode, "service not registered in this runner"
        else:
            try:
                mode, reason = await service.resolve_mode(pick.mode)
            except Exception as exc:  # the run record will say why
                mode, reason = pick.mode, f"mode not resolved: {exc}"
        probe = circuits.get(pick.service) == CircuitState.OPEN
        try:
            run, request, events = await self.store.start_run(
                RunStart(pick.id, self._lease.epoch, self.holder_id, mode, reason, probe)
            )
        except InvalidTransition:
            return 0.0  # cancelled or merged meanwhile: look again
        except LeaseLost:
            self._lease = None
            return None
        self._publish(events)
        ctx = RunContext(
            request_id=request.id,
            run_id=run.id,
            mode=mode,
            mode_reason=reason,
            attempt=request.attempt,
            _loop=asyncio.get_running_loop(),
        )
        ctx._on_progress = lambda progress: self._on_progress(run, progress)
        if service is None:
            task: asyncio.Task[RunCounts] = asyncio.create_task(self._missing_service(pick.service))
        else:
            task = asyncio.create_task(service.run(ctx), name=f"sync-{pick.service}-{run.id}")
        self._active = _Active(request=request, run=run, ctx=ctx, task=task)
        if request.cancel_requested:
            self._cancel_active_if(request.id)
        self._tasks.append(asyncio.create_task(self._supervise(self._active)))
        return None

    async def _missing_service(self, name: str) -> RunCounts:
        raise LookupError(f"service {name!r} is not registered in the runner {self.holder_id}")

    def _seconds_until_eligible(self, view: StoreView) -> float | None:
        waits = []
        for request in view.queued:
            if request.not_before is not None and request.not_before > view.now:
                waits.append((request.not_before - view.now).total_seconds())
        for state in view.services:
            if state.circuit == CircuitState.OPEN and state.circuit_opened_at is not None:
                reopen = state.circuit_opened_at + timedelta(
                    seconds=self._circuit_policy.cooldown_s
                )
                waits.append(max(0.0, (reopen - view.now).total_seconds()))
        return min(waits) if waits else None

    def _cancel_active_if(self, request_id: int) -> None:
        active = self._active
        if active is None or active.request.id != request_id or active.ctx.cancelled:
            return
        active.ctx.request_cancel()
        if active.stop_reason is None:
            active.stop_reason = RunOutcome.CANCELLED
        loop = asyncio.get_running_loop()
        active.hard_cancel = loop.call_later(self._cfg.cancel_grace_s, active.task.cancel)

    def _on_progress(self, run: RunRecord, progress: Progress) -> None:
        active = self._active
        if active is None or active.run.id != run.id:
            return
        active.progress = progress
        event = Event(
            at=datetime.now().astimezone(),
            kind=EventKind.RUN_PROGRESS,
            service=run.service,
            request_id=run.request_id,
            run_id=run.id,
            data=msgspec.structs.asdict(progress),
        )
        self._bus.publish([event])
        now = time.monotonic()
        if now - active.last_persisted >= self._cfg.progress_persist_s:
            active.last_persisted = now
            self._tasks.append(asyncio.create_task(self._persist_progress(event)))

    async def _persist_progress(self, event: Event) -> None:
        with contextlib.suppress(Exception):
            for stored in await self.store.append_events([event]):
                self._local_ids.add(stored.id)

    async def _supervise(self, active: _Active) -> None:
        """Wait for a run, classify how it ended, and record it (fenced by our epoch)."""
        error_class: str | None = None
        error: str | None = None
        counts = RunCounts()
        transient = False
        try:
            counts = await asyncio.wait_for(asyncio.shield(active.task), self._cfg.run_timeout_s)
            outcome = RunOutcome.SUCCEEDED
        except (TimeoutError, asyncio.CancelledError, Exception) as exc:
            outcome, transient, error_class, error = self._classify(active, exc)
        finally:
            if active.hard_cancel is not None:
                active.hard_cancel.cancel()
            if not active.task.done():
                active.task.cancel()
                with contextlib.suppress(BaseException):
                    await active.task
        try:
            await self._record(active, outcome, counts, transient, error_class, error)
        except LeaseLost:
            log.warning(
                "run #%s ended after this runner lost its lease; not recorded", active.run.id
            )
            self._lease = None
        except Exception:
            log.exception("recording run #%s failed", active.run.id)
        finally:
            self._active = None
            self._wake.set()
            self._tasks = [t for t in self._tasks if not t.done()]

    def _classify(
        self, active: _Active, exc: BaseException
    ) -> tuple[RunOutcome, bool, str | None, str | None]:
        """outcome, whether to retry, error class and message."""
        if active.stop_reason is not None and (
            isinstance(exc, (asyncio.CancelledError, SyncCancelled)) or active.ctx.cancelled
        ):
            if active.stop_reason == RunOutcome.INTERRUPTED:
                why = "runner stopped while the sync ran"
                return RunOutcome.INTERRUPTED, False, "Interrupted", why
            return RunOutcome.CANCELLED, False, "Cancelled", "cancelled by an operator"
        if isinstance(exc, TimeoutError) and not active.task.done():
            limit = self._cfg.run_timeout_s
            return RunOutcome.TIMED_OUT, True, "Timeout", f"run exceeded its {limit:g}s timeout"
        if isinstance(exc, asyncio.CancelledError):
            return RunOutcome.FAILED, False, "Cancelled", "the sync task was cancelled"
        return RunOutcome.FAILED, isinstance(exc, TRANSIENT_ERRORS), type(exc).__name__, str(exc)

    async def _record(
        self,
        active: _Active,
        outcome: RunOutcome,
        counts: RunCounts,
        transient: bool,
        error_class: str | None,
        error: str | None,
    ) -> None:
        if self._lease is None:
            raise LeaseLost("no lease")
        retry_in_s: float | None = None
        if outcome == RunOutcome.INTERRUPTED:
            retry_in_s = 0.0  # interrupted by us stopping: run again as soon as someone can
        elif transient and active.request.attempt < self._cfg.retry.tries:
            retry_in_s = policy.retry_delay(active.request.attempt, self._cfg.retry.backoff_s)
        circuit_policy = self._circuit_policy
        _, _, service, events = await self.store.finish_run(
            RunFinish(
                run_id=active.run.id,
                epoch=self._lease.epoch,
                outcome=outcome,
                counts=counts,
                error_class=error_class,
                error=error,
                retry_in_s=retry_in_s,
                breaker=lambda state, now: health_rules.after_run(
                    state, outcome, now, circuit_policy
                ),
            )
        )
        self._publish(events)
        await self._update_health(service, events[0].at if events else await self.store.now())

    async def _update_health(self, state: ServiceState, now: datetime) -> None:
        """Record a service's health when it changed (the only store call it may make)."""
        plan = plan_for(state, self.settings)
        health, reasons = health_rules.evaluate(state, plan.interval_s, now, self._circuit_policy)
        if health != state.health:
            self._publish(await self.store.set_health(state.name, health, reasons))

    async def _scheduled_request(self, service: str) -> None:
        """An APScheduler tick: only the runner requests, and only while the schedule runs."""
        if not self.is_runner or self._stopping:
            return
        try:
            if (await self.store.controls()).schedule_paused:
                return
            await self.request(service, SyncMode.AUTO, source=RequestSource.SCHEDULE)
        except Exception:
            log.exception("scheduled request for %s failed", service)

    def _plans(self, states: list[ServiceState]) -> list[SchedulePlan]:
        return [plan_for(state, self.settings) for state in states if state.name in self._services]

    # -- internals: snapshot ----------------------------------------------------

    def _snapshot_from(self, view: StoreView) -> Snapshot:
        now = view.now
        queue_order = policy.queue_order(view.queued, now, self._cfg.aging_step_s)
        queue = [
            QueueEntry(
                request=request,
                position=position,
                effective_priority=round(score, 3),
                waited_s=max(0.0, (now - request.requested_at).total_seconds()),
            )
            for position, (request, score) in enumerate(queue_order, start=1)
        ]
        queued_by_service = {r.service: r for r in view.queued}
        active: ActiveRun | None = None
        if view.running is not None:
            progress = None
            if self._active is not None and self._active.request.id == view.running.id:
                progress = self._active.progress
            elif view.running_run is not None:
                progress = self._remote_progress.get(view.running_run.id)
            active = ActiveRun(request=view.running, run=view.running_run, progress=progress)
        services = []
        by_priority = sorted(view.services, key=lambda s: (-s.default_priority, s.name))
        for state in by_priority:
            plan = plan_for(state, self.settings)
            health, reasons = health_rules.evaluate(
                state, plan.interval_s, now, self._circuit_policy
            )
            queued = queued_by_service.get(state.name)
            if view.running is not None and view.running.service == state.name:
                status = "running"
            elif queued is not None and queued.not_before is not None and queued.not_before > now:
                status = "retry_wait"
            elif queued is not None:
                status = "queued"
            elif state.circuit == CircuitState.OPEN:
                status = "circuit_open"
            else:
                status = "idle"
            next_run = None
            if plan.enabled and not view.controls.schedule_paused:
                next_run = plan.next_fire(now)
            services.append(
                ServiceView(
                    name=state.name,
                    state=status,
                    priority=state.default_priority,
                    health=health,
                    health_reasons=reasons,
                    circuit=state.circuit,
                    consecutive_failures=state.consecutive_failures,
                    last_run=view.last_runs.get(state.name),
                    last_success_at=state.last_success_at,
                    next_run=next_run,
                    interval_s=plan.interval_s,
                    offset_s=plan.offset_s,
                    schedule_enabled=plan.enabled,
                )
            )
        lease = view.lease
        alive = lease is not None and lease.expires_at > now and not self._holder_dead(lease)
        return Snapshot(
            at=now,
            services=services,
            queue=queue,
            active=active,
            runner=lease if alive else None,
            runner_alive=alive,
            controls=view.controls,
            health=health_rules.worst(s.health for s in services),
            is_runner=self.is_runner,
        )

    # -- added for the API (the orchestrator split provides these) --

    async def get_request(self, request_id: int) -> SyncRequest:
        return await self.store.get_request(request_id)

    async def controls(self) -> Controls:
        return await self.store.controls()

    async def services(self) -> list[ServiceState]:
        return await self.store.services()

    async def events_since(self, after_id: int, limit: int = 1000) -> list[Event]:
        return await self.store.events_since(after_id, limit)

    async def last_event_id(self) -> int:
        return await self.store.last_event_id()

    async def run_stats(
        self, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
    ) -> RunStats:
        return await self.store.run_stats(duration_buckets, wait_buckets)


__all__ = ["Orchestrator", "UnknownService", "process_alive"]
