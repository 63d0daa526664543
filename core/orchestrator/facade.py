"""The orchestrator's public API: what the console, the CLI, the daemon and your code call.

Every process that opens the store gets an `Orchestrator`. All of them accept
requests, cancels, priority changes and pauses, which go straight to the store
and return at once (principle 3). Only the process that holds the runner lease
starts syncs, one at a time (principle 2); the others watch the store and
relay its event log to their own subscribers. Clients read the store through
the methods here too (`get_request`, `controls`, `services`, `events_since`),
never through the store object, so that a front end works on any backend.

    async with Orchestrator(store, services, settings) as orch:
        request = await orch.request("orders", mode="full")
        result = await orch.wait(request.id)

This class is thin: the `Runner` (lease, dispatch, supervision, schedule), the
`Relay` (other processes' events) and `project` (the snapshot) do the work; an
optional `Listener` (webhook notifications) is told this process's own changes.

Failures: methods raise `core.errors` exceptions:
- `UnknownService` for a service this orchestrator does not know;
- `NotFound` for an unknown request;
- `InvalidTransition` for a change the request's or the circuit's state forbids;
- `StoreError` and its kin when the store fails (a client's read that finds it broken
  stops this process using it at once, as the runner's loops would a moment later).
`wait` raises `TimeoutError` when its timeout passes first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from core.breaker import BreakerRules
from core.config import Settings
from core.errors import NotFound, StoreBroken, UnknownService
from core.events import EventBus, Subscription
from core.models import (
    Controls,
    Event,
    RequestResult,
    RequestSource,
    RequestState,
    RunRecord,
    ServiceState,
    Snapshot,
    SyncMode,
    SyncRequest,
)
from core.orchestrator.faults import StoreHealth
from core.orchestrator.identity import Identity
from core.orchestrator.relay import Relay
from core.orchestrator.runner import Runner
from core.orchestrator.snapshot import project, schedule_view
from core.schedule.plan import ScheduleView
from core.store.base import RunStats, Store, StoreView
from core.sync.service import SyncService

if TYPE_CHECKING:
    from core.orchestrator.listener import Listener

RUNNER_TASK = "syncdeck-runner"


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
        identity: Identity | None = None,
        listener: Listener | None = None,
    ) -> None:
        """`listener`: told this process's own events and store trouble while it runs
        (webhook notifications: `core.runtime` passes one when they are configured)."""
        self._store = store
        self.settings = settings or Settings()
        self._services = dict(services)
        cfg = self.settings.orchestrator
        self._breaker_rules = BreakerRules(cfg.circuit.failure_threshold, cfg.circuit.cooldown_s)
        self._wants_runner = runner
        self._bus = EventBus()
        self._listener = listener
        self._store_health = StoreHealth(
            on_broken=lambda: self._runner.wake(),
            on_change=None if listener is None else listener.store_changed,
        )
        self._relay = Relay(
            store,
            self._bus,
            cancel_asked=lambda request_id: self._runner.cancel_active_if(request_id),
            running_here=lambda: self._runner.active is not None,
            own=None if listener is None else listener.own_events,
        )
        self._runner = Runner(
            store,
            self._services,
            self.settings,
            self._breaker_rules,
            schedule=schedule and runner,
            publish=self._relay.publish,
            note_local=self._relay.note_local,
            catch_up=self._relay.catch_up,
            request=lambda service, mode, source: self.request(service, mode, source=source),
            store_health=self._store_health,
            identity=identity,
        )
        self._loops: list[asyncio.Task[None]] = []
        self._started = False

    # -- identity: this process's unless given (a scene's pictures fix it) -----

    @property
    def host(self) -> str:
        return self._runner.identity.host

    @property
    def pid(self) -> int:
        return self._runner.identity.pid

    @property
    def holder_id(self) -> str:
        """This process's name in the lease (host:pid:random)."""
        return self._runner.identity.holder_id

    # -- lifecycle ----------------------------------------------------------

    async def __aenter__(self) -> Orchestrator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, *, defer_schedule: bool = False) -> None:
        """Open the store, register services, and start watching (and running, if a runner),
        then the schedule, unless `defer_schedule` leaves that to `start_schedule()`."""
        await self._store.open()
        await self._store.register_services(
            {name: self.settings.default_priority(name) for name in self._services}
        )
        await self._relay.open()
        self._runner.started_at = await self._store.now()
        self._started = True
        if self._listener is not None:
            self._listener.start(self.host, self.holder_id, lambda: self._runner.lease is not None)
        runner = self._runner
        watch = self._relay.watch(lambda: runner.stopping, runner.wake, self._store_health)
        self._loops.append(asyncio.create_task(watch, name="syncdeck-watch"))
        if self._wants_runner:
            self._loops.append(asyncio.create_task(runner.loop(), name=RUNNER_TASK))
        if not defer_schedule:
            await self.start_schedule()

    async def start_schedule(self) -> None:
        """Start the periodic schedule, if this orchestrator keeps one and it is not running.

        Separate from `start()` because importing APScheduler is the largest single cost
        of starting: a console starts the schedule after its first frame.
        Nothing is missed meanwhile: a tick that came due while it was not running fires
        once when it starts, and "next run" is computed without it."""
        if self._started:
            await self._runner.start_schedule()

    async def stop(self) -> None:
        """Stop watching and running. A run in progress is interrupted, recorded as such and
        queued again; the lease is released so another process takes over at once."""
        if not self._started:
            return
        self._runner.begin_stop()
        # The runner loop is never cancelled mid-call (a lease or a run the store committed
        # would go unseen): woken, it ends its step and returns. The watcher only reads.
        for loop_task in self._loops:
            if loop_task.get_name() != RUNNER_TASK:
                loop_task.cancel()
        for loop_task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop_task
        self._loops.clear()
        await self._runner.finish_stop()
        if self._listener is not None:  # after the last run's record: a failure is told
            await self._listener.stop()
        await self._store.close()
        self._started = False

    # -- state ------------------------------------------------------------------

    @property
    def is_runner(self) -> bool:
        """Whether this process holds the runner lease (and so starts syncs) now."""
        return self._runner.is_runner

    @property
    def fault(self) -> StoreBroken | None:
        """The store broke under this process (corrupt, deleted or replaced); None if not."""
        return self._store_health.fault

    async def wait_for_fault(self) -> StoreBroken:
        """Return when the store breaks under this process (a daemon exits on it)."""
        await self._store_health.broken.wait()
        return self._store_health.fault  # type: ignore[return-value]  # set with `broken`

    @property
    def service_names(self) -> list[str]:
        return sorted(self._services)

    def events(self, maxsize: int = 10_000) -> Subscription:
        """Every event from now on, from this process and (via the store) all others."""
        return self._bus.subscribe(maxsize)

    async def snapshot(self) -> Snapshot:
        """Services, queue, active run, runner and controls, from one read of the store."""
        view = await self._view()
        active = self._runner.active
        return project(
            view,
            self.settings,
            self._breaker_rules,
            local_run=None if active is None else (active.request.id, active.progress),
            remote_progress=self._relay.remote_progress,
            holder_dead=view.lease is not None and self._runner.holder_dead(view.lease),
            is_runner=self.is_runner,
            store_problem=self._store_health.problem,
        )

    async def schedule(self) -> ScheduleView:
        """Every service's schedule as the runner applies it (its published plan, with the
        store's overrides and their problems), the spacing and the next period's fires."""
        view = await self._view()
        holder_dead = view.lease is not None and self._runner.holder_dead(view.lease)
        return schedule_view(view, self.settings, holder_dead=holder_dead)

    async def _view(self) -> StoreView:
        """The store's view; one that finds the store broken stops its use here at once."""
        try:
            return await self._store.view()
        except StoreBroken as exc:
            self._store_health.failed(exc)
            raise

    async def get_request(self, request_id: int) -> SyncRequest:
        """One request as the store has it now. Raises NotFound."""
        return await self._store.get_request(request_id)

    async def controls(self) -> Controls:
        """Whether dispatch and the schedule are paused, as stored (not a frame's copy)."""
        return await self._store.controls()

    async def services(self) -> list[ServiceState]:
        """Every service's stored state: default priority, schedule overrides, circuit,
        health, cursor and last runs, including services other processes registered."""
        return await self._store.services()

    async def history(self, service: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Runs, newest first, of one service or all. Raises UnknownService."""
        if service is not None:
            self._check_service(service)
        return await self._store.runs(service=service, limit=limit)

    async def get_run(self, run_id: int) -> RunRecord:
        """One run as the store has it now, read by its id. Raises NotFound."""
        return await self._store.get_run(run_id)

    async def events_since(self, after_id: int, limit: int = 1000) -> list[Event]:
        """The store's event log after `after_id`, oldest first, at most `limit`: every
        process's events, for a console's first log lines or a stream resuming from an id."""
        return await self._store.events_since(after_id, limit)

    async def last_event_id(self) -> int:
        """The id of the newest event in the store's log (0 if it is empty)."""
        return await self._store.last_event_id()

    async def run_stats(
        self, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
    ) -> RunStats:
        """Aggregates over the whole run history, from the store (for metrics that every
        process reports alike)."""
        return await self._store.run_stats(duration_buckets, wait_buckets)

    # -- requests ---------------------------------------------------------------

    async def request(
        self,
        service: str,
        mode: SyncMode | str = SyncMode.AUTO,
        priority: int | None = None,
        source: RequestSource | str = RequestSource.MANUAL,
    ) -> SyncRequest:
        """Queue a sync and return at once: the new request, or the queued one it merged into.
        Raises UnknownService, and ValueError for a mode or source that does not exist."""
        try:
            result = await self._store.enqueue(
                service, SyncMode(mode), priority, RequestSource(source)
            )
        except NotFound as exc:
            raise UnknownService(f"unknown service {service!r}; known: {self._known()}") from exc
        self._relay.publish(result.events)
        self._runner.wake()
        return result.request

    async def resolve_mode(
        self, service: str, mode: SyncMode | str = SyncMode.AUTO
    ) -> tuple[SyncMode, str]:
        """The mode a `mode` request of `service` would run in if it started now, and why:
        the service's `resolve_mode`, the rule the runner applies when it starts the run
        (`core.sync.modes`), so a front end can say beforehand what an operator's key will
        do. Raises UnknownService, ValueError for a mode that does not exist, and what the
        service raises reading its state (its replica unreachable)."""
        self._check_service(service)
        return await self._services[service].resolve_mode(SyncMode(mode))

    async def wait(self, request_id: int, timeout: float | None = None) -> RequestResult:
        """Wait until the request ends (finished or cancelled) and return it with its last run.
        Raises NotFound, and TimeoutError if `timeout` passes first."""
        return await self._relay.wait(request_id, timeout)

    async def cancel(self, request_id: int) -> SyncRequest:
        """Cancel a queued request at once, or ask the running one to stop (cooperatively,
        then by force after `cancel_grace_s`). Raises NotFound or InvalidTransition."""
        request, events = await self._store.cancel(request_id)
        self._relay.publish(events)
        if request.state == RequestState.RUNNING:
            self._runner.cancel_active_if(request.id)
        return request

    async def set_priority(
        self, request_id: int, priority: int | None = None, *, delta: int = 0
    ) -> None:
        """Set a queued request's priority, or (`priority` None) move it by `delta`, applied
        in the store's transaction so that concurrent presses all count.
        Raises NotFound or InvalidTransition."""
        self._relay.publish(await self._store.set_priority(request_id, priority, delta))
        self._runner.wake()

    async def probe_now(
        self, service: str, *, by: str = "console", subject: str | None = None
    ) -> SyncRequest:
        """Let `service`'s open circuit probe the ERP now instead of after its cooldown: the
        circuit goes half-open and the service's queued request may start at once (one is
        queued if there is none: `by` "cli" or "api" makes it theirs, anyone else's is
        manual). The breaker judges that run as the probe: a success closes the circuit, a
        failure opens it again with a fresh cooldown. Recorded as `circuit.probe_requested`
        with who asked: `by` (console, cli, api) and `subject` (the API token's subject, the
        console's or CLI's user), and returned as the request that probes.
        Raises UnknownService, InvalidTransition (the circuit is not open)."""
        self._check_service(service)
        request, events = await self._store.probe_now(service, by, subject)
        self._relay.publish(events)
        self._runner.wake()
        return request

    async def set_default_priority(self, service: str, priority: int) -> None:
        """Change the priority new requests of `service` get. Raises UnknownService."""
        self._check_service(service)
        self._relay.publish(await self._store.set_default_priority(service, priority))

    # -- controls and the schedule ----------------------------------------------

    async def pause(self) -> None:
        """Stop starting runs; requests are still accepted and queued."""
        self._relay.publish(await self._store.set_controls(dispatch_paused=True))

    async def resume(self) -> None:
        self._relay.publish(await self._store.set_controls(dispatch_paused=False))
        self._runner.wake()

    async def pause_schedule(self) -> None:
        """Scheduled ticks request nothing until `resume_schedule()`; manual requests still run."""
        self._relay.publish(await self._store.set_controls(schedule_paused=True))

    async def resume_schedule(self) -> None:
        self._relay.publish(await self._store.set_controls(schedule_paused=False))

    async def set_schedule(
        self,
        service: str,
        interval_s: float | None = None,
        offset_s: float | None = None,
        enabled: bool | None = None,
    ) -> None:
        """Override a service's schedule (persisted); None returns a field to the configuration.
        Raises UnknownService."""
        self._check_service(service)
        self._relay.publish(await self._store.set_schedule(service, interval_s, offset_s, enabled))
        await self._runner.reapply_schedule()

    # -- internals ----------------------------------------------------------------

    def _known(self) -> str:
        return ", ".join(self.service_names) or "none"

    def _check_service(self, service: str) -> None:
        if service not in self._services:
            raise UnknownService(f"unknown service {service!r}; known: {self._known()}")
