"""The snapshot: what a console shows, projected from one read of the store.

A pure function. In go one `StoreView` (read in one transaction, so its parts agree)
and the little only this process knows. That is its own run's progress, the last
progress relayed from other processes, whether the lease's holder is known to be
dead, and whether this process holds the lease. Out comes a `Snapshot`.

It does no I/O and reads no clock but the view's. So every process that projects the
same view shows the same queue order, statuses, health and next runs, and the same
answers to "why is nothing running?" (`Snapshot.idle_reason`), "when can this entry
run?" (`QueueEntry.ready_at`), "when does the circuit close?"
(`ServiceView.circuit_until`) and "is the running sync still moving?" (`ActiveRun`:
running, stalled or orphaned, decided here and only here, by `core.health.run_condition`,
for the console, `status`, the API and metrics alike). The schedule is the plan the
runner published in the store, whatever this process's own configuration says; its own
only while no runner ever published one (`schedule_view` resolves it the same way).

Failures: none; it raises nothing for any view the store can return.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from core import queue_order
from core.breaker import BreakerRules, cooldown_ends
from core.config import Settings
from core.health import RUNNING, RunCondition, overall_health, run_condition, service_health
from core.models import (
    ActiveRun,
    CircuitState,
    IdleReason,
    Lease,
    PlannedService,
    Progress,
    QueueEntry,
    RunnerPlan,
    ServiceState,
    ServiceView,
    Snapshot,
    SyncRequest,
)
from core.schedule.plan import (
    SchedulePlan,
    ScheduleView,
    plan_for,
    spacing,
    timeline,
    with_overrides,
)
from core.store.base import StoreView


def project(
    view: StoreView,
    settings: Settings,
    breaker_rules: BreakerRules,
    *,
    local_run: tuple[int, Progress | None] | None,
    remote_progress: Mapping[int, Progress],
    holder_dead: bool,
    is_runner: bool,
    store_problem: str | None = None,
) -> Snapshot:
    """Project `view` and what only this process knows into a `Snapshot`.

    - `local_run`: (request id, progress) of the run this process supervises, if any.
    - `remote_progress`: the last progress of other processes' runs, by run id.
    - `store_problem`: what this process last saw a write fail with, if it has not
      since seen one succeed (the view's own `problem` counts too).
    """
    now = view.now
    runner = _runner(view, holder_dead)
    plan = _published(view, holder_dead)
    stall_s = settings.orchestrator.stall_s
    if plan is not None:  # the runner's rules, not this process's configuration
        breaker_rules = BreakerRules(plan.failure_threshold, plan.cooldown_s)
        stall_s = stall_s if plan.stall_s is None else plan.stall_s
    active, condition = _active(view, local_run, remote_progress, runner, stall_s)
    services = _services(view, settings, breaker_rules, plan, condition, runner is not None)
    queue = _queue(view, settings.orchestrator.aging_step_s, breaker_rules)
    problem = store_problem or view.problem
    return Snapshot(
        at=now,
        services=services,
        queue=queue,
        active=active,
        runner=runner,
        controls=view.controls,
        health=overall_health(s.health for s in services),
        is_runner=is_runner,
        store_problem=problem,
        idle_reason=None if active is not None else idle_reason(view, queue, runner, problem),
        schedule=_schedule_state(view, settings, plan, services, runner),
        plan_holder=None if plan is None else plan.holder,
        dispatch="paused" if view.controls.dispatch_paused else "running" if runner else "none",
    )


def schedule_view(view: StoreView, settings: Settings, *, holder_dead: bool) -> ScheduleView:
    """Every service's plan resolved as `project` resolves it: the live runner's published
    plan with the store's overrides first, this process's configuration only while no
    runner ever published one."""
    plan = _published(view, holder_dead)
    states = sorted(view.services, key=lambda s: (-s.default_priority, s.name))
    planned = {} if plan is None else {p.service: p for p in plan.services}
    plans = [_plan(state, settings, plan, planned.get(state.name)) for state in states]
    fires, truncated = timeline(plans, view.now)
    return ScheduleView(
        at=view.now,
        holder=None if plan is None else plan.holder,
        enabled=plan.schedule if plan is not None else settings.schedule.enabled,
        paused=view.controls.schedule_paused,
        stagger_s=plan.stagger_s if plan is not None else settings.stagger_s,
        plans=plans,
        spacing=spacing(plans),
        fires=fires,
        truncated=truncated,
    )


def _active(
    view: StoreView,
    local_run: tuple[int, Progress | None] | None,
    remote_progress: Mapping[int, Progress],
    runner: Lease | None,
    stall_s: float,
) -> tuple[ActiveRun | None, RunCondition | None]:
    """The running request with its last progress (this process's own report if it runs
    it: the freshest), and its condition (`run_condition`), decided on what the store
    holds, so that every process, the runner's included, decides alike: orphaned while no
    live runner holds the lease it ran under, stalled once its stored progress (or its
    start) is `stall_s` old. A run that is not running shows no rate, so no ETA."""
    running, run = view.running, view.running_run
    if running is None:
        return None, None
    progress = None
    if local_run is not None and local_run[0] == running.id:
        progress = local_run[1]
    elif run is not None:
        progress = remote_progress.get(run.id, view.running_progress)
    stored = view.running_progress
    condition = run_condition(
        run.started_at if run is not None else running.started_at or view.now,
        None if stored is None else stored.recorded_at,
        view.now,
        stall_s,
        runner_alive=runner is not None and (run is None or run.holder == runner.holder),
    )
    if condition.state != RUNNING and progress is not None:
        progress = msgspec.structs.replace(progress, rate=None)
    active = ActiveRun(
        request=running,
        run=run,
        progress=progress,
        condition=condition.state,
        quiet_s=round(condition.quiet_s, 3),
        note=condition.note,
    )
    return active, condition


def _runner(view: StoreView, holder_dead: bool) -> Lease | None:
    lease = view.lease
    return lease if lease is not None and lease.expires_at > view.now and not holder_dead else None


def _published(view: StoreView, holder_dead: bool) -> RunnerPlan | None:
    """The plan that speaks for the runner now (`_current`), if any was published."""
    runner = _runner(view, holder_dead)
    return view.plan if view.plan is not None and _current(view.plan, runner) else None


def _current(plan: RunnerPlan, runner: Lease | None) -> bool:
    """A plan speaks for the live runner that published it, or, while none is alive, for
    the last one (the best guess of what the next will do)."""
    return runner is None or (plan.holder == runner.holder and plan.epoch == runner.epoch)


def _schedule_state(
    view: StoreView,
    settings: Settings,
    plan: RunnerPlan | None,
    services: list[ServiceView],
    runner: Lease | None,
) -> str:
    """disabled, paused, none (no runner, nothing ticks) or running: the first that holds."""
    keeps = plan.schedule if plan is not None else settings.schedule.enabled
    if not keeps or not any(s.schedule_enabled for s in services):
        return "disabled"
    if view.controls.schedule_paused:
        return "paused"
    return "running" if runner is not None else "none"


def idle_reason(
    view: StoreView, queue: list[QueueEntry], runner: Lease | None, problem: str | None
) -> IdleReason | None:
    """Why nothing starts although `queue` is not empty, the first that holds: the store
    refusing writes, no runner alive, dispatch paused, then (when no entry may start
    now) the entry that becomes ready first, by its circuit or its backoff."""
    if not queue:
        return None
    if problem:
        return IdleReason(kind="store", text=f"{problem}; nothing starts until it takes writes")
    if runner is None:
        return IdleReason(
            kind="no_runner",
            text="no runner is alive; `syncdeck daemon` or `syncdeck` starts one",
        )
    if view.controls.dispatch_paused:
        return IdleReason(kind="paused", text="dispatch is paused")
    if any(entry.ready_at is None for entry in queue):
        return None  # the runner starts it at its next look
    first = min(queue, key=lambda e: (e.ready_at, e.position))
    service = first.request.service
    if first.blocked_by == "circuit open":
        text = f"the {service} circuit is open; a probe runs after the cooldown"
        return IdleReason(kind="circuit", text=text, until=first.ready_at, service=service)
    text = f"{service} is backing off after a failed try"
    return IdleReason(kind="backoff", text=text, until=first.ready_at, service=service)


def _queue(view: StoreView, aging_step_s: float, breaker_rules: BreakerRules) -> list[QueueEntry]:
    now = view.now
    states = {s.name: s for s in view.services}
    entries = []
    for position, (request, score) in enumerate(
        queue_order.queue_order(view.queued, now, aging_step_s), start=1
    ):
        ready_at, blocked_by = queue_order.ready_at(
            request, states.get(request.service), now, breaker_rules
        )
        entries.append(
            QueueEntry(
                request=request,
                position=position,
                effective_priority=round(score, 3),
                waited_s=max(0.0, (now - request.requested_at).total_seconds()),
                ready_at=ready_at,
                blocked_by=blocked_by,
            )
        )
    return entries


def _services(
    view: StoreView,
    settings: Settings,
    breaker_rules: BreakerRules,
    published: RunnerPlan | None,
    running: RunCondition | None,
    ticking: bool,
) -> list[ServiceView]:
    """Every service's row: health with the running sync's condition (`running`) on its
    own; the next run only while a live runner's schedule ticks (`ticking`): with none,
    nothing fires, so none is promised."""
    now = view.now
    queued_by_service = {r.service: r for r in view.queued}
    planned = {} if published is None else {p.service: p for p in published.services}
    services = []
    for state in sorted(view.services, key=lambda s: (-s.default_priority, s.name)):
        plan = _plan(state, settings, published, planned.get(state.name))
        mine = view.running is not None and view.running.service == state.name
        health, reasons = service_health(
            state, plan.interval_s, now, breaker_rules, running if mine else None
        )
        next_run = None
        if plan.enabled and not view.controls.schedule_paused and ticking:
            next_run = plan.next_fire(now)
        services.append(
            ServiceView(
                name=state.name,
                state=_status(
                    view, state.name, state.circuit, queued_by_service.get(state.name), running
                ),
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
                circuit_until=cooldown_ends(state, breaker_rules),
            )
        )
    return services


def _plan(
    state: ServiceState,
    settings: Settings,
    published: RunnerPlan | None,
    planned: PlannedService | None,
) -> SchedulePlan:
    """The runner's configuration of the service, with the store's overrides, when it
    published one; this process's own while none did."""
    if published is None:
        return plan_for(state, settings)
    if planned is None:  # a service the runner does not run: it never ticks
        local = plan_for(state, settings)
        return SchedulePlan(state.name, local.interval_s, local.offset_s, False, local.anchor)
    return with_overrides(
        state,
        planned.interval_s,
        planned.offset_s,
        planned.enabled,
        published.schedule,
        published.stagger_s,
    )


def _status(
    view: StoreView,
    service: str,
    circuit: CircuitState,
    queued: SyncRequest | None,
    running: RunCondition | None,
) -> str:
    """idle, queued, running (stalled or orphaned, as its run is: `running`), retry_wait or
    circuit_open (the first that holds)."""
    if view.running is not None and view.running.service == service:
        return RUNNING if running is None else running.state
    if queued is not None and queued.not_before is not None and queued.not_before > view.now:
        return "retry_wait"
    if queued is not None:
        return "queued"
    if circuit == CircuitState.OPEN:
        return "circuit_open"
    return "idle"
