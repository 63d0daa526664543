"""The runner: the one process that starts syncs (principle 2), and how it does it.

Every orchestrator has a `Runner`, but only one that holds the store's lease
dispatches. Its loop:
- heartbeats the lease (acquire, renew, or take it from a holder on this host whose
  process is gone);
- picks the next request (`core.queue_order`), resolves its mode, starts it, and
  supervises it (`supervise`: timeout, cancel, outcome) until the result is recorded,
  fenced by the lease's epoch;
- stores its run's progress (`progress.ProgressKeeper`: fenced, `progress_persist_s`
  apart, the last report always) and each service's health, a stalled run's included
  (and tells a stall once, `run.stalled`);
- while it holds the lease, publishes its plan for observers (`Ticks.publish`) and
  requests what the schedule says; from its second heartbeat on (the first is on the
  way to a console's first frame) it also prunes the event log.

The façade hands in `publish`, `catch_up` and `request`; this imports none of it.

Failures, and what the runner does about them (`faults.StoreHealth` keeps the
state and logs one line per change):
- a store that refuses writes for now (`StoreUnwritable`: a full disk): start
  nothing, keep heartbeating, and retry the active run's record with backoff;
  once a write goes through, the run is recorded and the queue moves on;
- a store that cannot be trusted (`StoreBroken`: corrupt, deleted or replaced under
  us): at once, drop the lease unwritten, interrupt the run and stop the loop;
- the lease lost, or possibly lost (a takeover seen at heartbeat, `LeaseLost`
  from the store, or this process's own deadline passing): the active run stops
  at once. The deadline is the last renewal + TTL - a margin, by the monotonic
  clock, so a process frozen past its lease knows it when it wakes. Every replica
  commit is fenced by the run's epoch and that deadline (`core.replica.base.Fence`);
- any other exception in a loop step is logged and retried after a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from core import queue_order
from core.breaker import BreakerRules, cooldown_over
from core.config import Settings
from core.errors import InvalidTransition, LeaseLost, StoreBroken, StoreError
from core.health import RunCondition, service_health
from core.models import (
    CircuitState,
    Event,
    EventKind,
    Lease,
    Progress,
    RunCounts,
    RunRecord,
    ServiceState,
)
from core.orchestrator.faults import StoreHealth
from core.orchestrator.identity import Identity, process_alive
from core.orchestrator.progress import ProgressKeeper
from core.orchestrator.supervise import SupervisedRun, await_ending, missing_service, record
from core.replica.base import Fence
from core.schedule.plan import plan_for
from core.schedule.ticks import Requester, Ticks
from core.store.base import RunStart, Store, StoreView
from core.sync.service import RunContext, SyncService

log = logging.getLogger(__name__)

Publish = Callable[[list[Event]], None]


class Runner:
    """The lease, dispatch and supervision of one orchestrator (idle unless it holds the lease)."""

    def __init__(
        self,
        store: Store,
        services: Mapping[str, SyncService],
        settings: Settings,
        breaker_rules: BreakerRules,
        *,
        schedule: bool,
        publish: Publish,
        note_local: Publish,
        catch_up: Callable[[], Awaitable[None]],
        request: Requester,
        store_health: StoreHealth,
        identity: Identity | None = None,
    ) -> None:
        self._store = store
        self._services = services
        self._settings = settings
        self._cfg = settings.orchestrator
        self._breaker_rules = breaker_rules
        self._publish = publish
        self._note_local = note_local
        self._catch_up = catch_up
        self.identity = identity or Identity()
        self.lease: Lease | None = None
        self.active: SupervisedRun | None = None
        self.stopping = False
        self.started_at = datetime.min.replace(tzinfo=UTC)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.ticks = Ticks(
            store,
            services,
            settings,
            wanted=schedule,
            may_request=lambda: self.is_runner and not self.stopping,
            request=request,
        )
        self.store_health = store_health
        self._renewed_at = 0.0
        """Monotonic time of the last successful renewal: the lease's deadline counts from it."""
        self._chores_due = False  # pruning, checkpoints: not in the first beat (a first frame)
        self._progress = ProgressKeeper(
            store,
            persist_s=self._cfg.progress_persist_s,
            stall_s=self._cfg.stall_s,
            publish=publish,
            note_local=note_local,
            spawn=lambda write: self._tasks.append(asyncio.create_task(write)),
        )

    @property
    def is_runner(self) -> bool:  # not with a broken store: it can start and record nothing
        return self.lease is not None and self.store_health.fault is None

    def wake(self) -> None:
        """Look at the queue again now (a request, a resume, a run that ended)."""
        self._wake.set()

    # -- the schedule ---------------------------------------------------------

    async def start_schedule(self) -> None:
        if not self.stopping:
            await self.ticks.start(self.started_at)

    async def reapply_schedule(self) -> None:
        """An override changed: bring the running schedule's jobs in line with the store."""
        await self.ticks.reapply()

    # -- stopping ---------------------------------------------------------------

    def begin_stop(self) -> None:
        """Start no more runs or ticks; the loop, woken, ends its step and returns."""
        self.stopping = True
        self.ticks.shutdown()
        self._wake.set()

    async def finish_stop(self) -> None:
        """Interrupt the active run, let every run record itself, and release the lease."""
        if self.active is not None:
            self.active.interrupt()
        # Runs being stopped record themselves (interrupted, queued again) before the store closes.
        while self._tasks:
            task = self._tasks.pop()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.lease is not None:
            with contextlib.suppress(Exception):
                self._publish(await self._store.release_lease(self.identity.holder_id))
            self.lease = None

    # -- the loop and the lease -------------------------------------------------

    def lease_deadline(self) -> float:
        """Monotonic time by which the lease could have expired, as far as this process
        knows: past it, it must act as if another process had taken over. Safe to call
        from a worker thread (the replica's fence does)."""
        ttl = self._cfg.lease_ttl_s
        return self._renewed_at + ttl - min(2.0, ttl / 5) if self.lease is not None else 0.0

    async def loop(self) -> None:
        next_heartbeat = 0.0
        while not self.stopping and self.store_health.fault is None:
            timeout = self._cfg.heartbeat_s
            try:
                if time.monotonic() >= next_heartbeat:
                    next_heartbeat = time.monotonic() + self._heartbeat_interval()
                    await self._heartbeat()
                if self.is_runner and time.monotonic() > self.lease_deadline():
                    self._lease_lost("its renewal is overdue")
                if self.is_runner and self.active is None and self.store_health.problem is None:
                    wake_in = await self._dispatch()
                    if wake_in is not None:
                        timeout = min(timeout, wake_in)
                if self.is_runner:
                    timeout = min(timeout, self.lease_deadline() - time.monotonic())
                timeout = max(0.0, min(timeout, next_heartbeat - time.monotonic()))
            except asyncio.CancelledError:
                raise
            except StoreBroken as exc:
                self.store_health.failed(exc)
                break
            except StoreError as exc:  # it may pass: one line per change, no traceback
                self.store_health.failed(exc)
                timeout = 1.0
            except Exception:
                log.exception("runner loop step failed; retrying")
                timeout = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
        if self.lease is not None and self.store_health.fault is not None:
            self._lease_lost("the store broke under this process")  # it stops the active run

    def _heartbeat_interval(self) -> float:
        if self.is_runner:
            return self._cfg.heartbeat_s
        # Followers poll for a free lease a little more often than the holder renews it.
        return min(self._cfg.heartbeat_s, max(0.2, self._cfg.lease_ttl_s / 10))

    def holder_dead(self, lease: Lease) -> bool:
        """A holder on this host whose process is gone is dead before its lease expires."""
        me = self.identity
        return lease.host == me.host and lease.pid != me.pid and not process_alive(lease.pid)

    async def _heartbeat(self) -> None:
        me = self.identity
        steal_from = None
        if not self.is_runner:
            current = await self._store.lease()
            if current is not None and self.holder_dead(current):
                steal_from = current.holder
        asked = time.monotonic()
        epoch = None if self.lease is None else self.lease.epoch
        ttl = self._cfg.lease_ttl_s
        result = await self._store.acquire_lease(
            me.holder_id, me.host, me.pid, ttl, steal_from, epoch
        )
        self.store_health.succeeded()
        had = self.is_runner
        self.lease = result.lease
        if result.lease is not None:
            self._renewed_at = asked  # the store's expiry counts from a moment after this
        self._publish(result.events)
        if had and not self.is_runner:
            self._lease_lost("another process took it over")
        elif had and result.taken_over and self.active is not None:
            # Expired before renewal, taken again: the new epoch fences the active run.
            self.active.interrupt()
        # Catch up with the event log even if no change was signalled: this also trims the
        # set of ids published locally, which would otherwise only grow.
        await self._catch_up()
        if self.is_runner:
            states = await self._store.services()
            now = await self._store.now()
            active = self.active
            condition = await self._progress.watch(active, now)  # run.stalled, once a stall
            for state in states:
                mine = active is not None and active.run.service == state.name
                await self._update_health(state, now, condition if mine else None)
            self.ticks.apply(states)
            if self.lease is not None:
                await self.ticks.publish(states, self.lease, self._breaker_rules, now)
            if self._chores_due:
                await self._store.prune_events(self._cfg.event_retention)
                await self._store.maintenance()
            self._chores_due = True

    def _lease_lost(self, why: str) -> None:
        """The lease is gone, or may be: our run may no longer be recorded; stop it now."""
        log.warning("runner lease lost (%s); stopping the active run", why)
        self.lease = None
        data = {"holder": self.identity.holder_id, "reason": why}
        self._publish([Event(at=datetime.now().astimezone(), kind=EventKind.LEASE_LOST, data=data)])
        if self.active is not None:
            self.active.interrupt()

    # -- dispatch -----------------------------------------------------------------

    async def _dispatch(self) -> float | None:
        """Start the best eligible request, if any. Returns seconds until the next one may
        become eligible (backoff or circuit cooldown), if that is what blocks it."""
        if self.stopping:
            return None
        view = await self._store.view(history=False)
        if view.controls.dispatch_paused or view.running is not None or not view.queued:
            return None
        states = {s.name: s for s in view.services}
        circuits = {name: s.circuit for name, s in states.items()}
        cooled = {
            name: cooldown_over(s, view.now, self._breaker_rules) for name, s in states.items()
        }
        pick = queue_order.choose_next(
            view.queued, view.now, self._cfg.aging_step_s, circuits, cooled
        )
        if pick is None:
            return self._seconds_until_eligible(view)
        assert self.lease is not None
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
            run, request, events = await self._store.start_run(
                RunStart(pick.id, self.lease.epoch, self.identity.holder_id, mode, reason, probe)
            )
        except InvalidTransition:
            return 0.0  # cancelled or merged meanwhile: look again
        except LeaseLost:
            self.lease = None
            return None
        self._publish(events)
        ctx = RunContext(
            request_id=request.id,
            run_id=run.id,
            mode=mode,
            mode_reason=reason,
            attempt=request.attempt,
            fence=Fence(self.identity.holder_id, run.epoch, self.lease_deadline),
            on_progress=lambda progress: self._on_progress(run, progress),
            loop=asyncio.get_running_loop(),
        )
        if service is None:
            task: asyncio.Task[RunCounts] = asyncio.create_task(
                missing_service(pick.service, self.identity.holder_id)
            )
        else:
            task = asyncio.create_task(service.run(ctx), name=f"sync-{pick.service}-{run.id}")
        self.active = SupervisedRun(request=request, run=run, ctx=ctx, task=task)
        if request.cancel_requested:
            self.cancel_active_if(request.id)
        self._tasks.append(asyncio.create_task(self._supervise(self.active)))
        return None

    def _seconds_until_eligible(self, view: StoreView) -> float | None:
        states = {s.name: s for s in view.services}
        ready = [
            queue_order.ready_at(r, states.get(r.service), view.now, self._breaker_rules)[0]
            for r in view.queued
        ]
        waits = [(at - view.now).total_seconds() for at in ready if at is not None]
        return min(waits) if waits else None

    # -- the active run: cancel, progress, supervision ---------------------------

    def cancel_active_if(self, request_id: int) -> None:
        """Ask the active run to stop if it serves `request_id`; force it after the grace."""
        if self.active is not None and self.active.request.id == request_id:
            self.active.ask_cancel(self._cfg.cancel_grace_s)

    def _on_progress(self, run: RunRecord, progress: Progress) -> None:
        if self.active is not None and self.active.run.id == run.id:
            self._progress.report(self.active, progress)

    async def _supervise(self, active: SupervisedRun) -> None:
        """Wait for a run, classify how it ended, and record it (fenced by its epoch)."""
        ending = await await_ending(active, self._cfg.run_timeout_s)
        try:
            service, events = await record(
                self._store,
                active,
                ending,
                self._cfg.retry,
                self._breaker_rules,
                self.store_health,
                giving_up=lambda: self.stopping or self.store_health.fault is not None,
            )
            if events:
                self._publish(events)
            if service is not None:
                await self._update_health(service, events[0].at if events else None)
        except LeaseLost:
            log.warning(
                "run #%s ended after this runner lost its lease; not recorded", active.run.id
            )
            self.lease = None
        except StoreBroken as exc:  # one line, from store_health; the daemon then stops
            self.store_health.failed(exc)
        except Exception:
            log.exception("recording run #%s failed", active.run.id)
        finally:
            self.active = None
            self._wake.set()
            self._tasks = [t for t in self._tasks if not t.done()]

    async def _update_health(
        self, state: ServiceState, now: datetime | None = None, run: RunCondition | None = None
    ) -> None:
        """Record a service's health when it changed (the only store call it may make);
        `run`: the condition of its sync, if it is the active one."""
        now = now or await self._store.now()
        plan = plan_for(state, self._settings)
        health, reasons = service_health(state, plan.interval_s, now, self._breaker_rules, run)
        if health != state.health:
            self._publish(await self._store.set_health(state.name, health, reasons))
