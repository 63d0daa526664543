"""The snapshot by the runner's published plan (`RunnerPlan`), not the observer's own
configuration: next runs, health, circuit cooldowns and the schedule's state, from the
pure projection on views built by hand."""

from __future__ import annotations

from datetime import timedelta

import msgspec
from test_snapshot_projection import LEASE, NOW, POLICY, service, view

from core.config import Settings
from core.models import CircuitState, Controls, PlannedService, RunnerPlan, Snapshot
from core.orchestrator.snapshot import project
from core.store.base import StoreView

PLAN = RunnerPlan(
    holder=LEASE.holder,
    epoch=LEASE.epoch,
    schedule=True,
    failure_threshold=2,
    cooldown_s=60.0,
    services=[PlannedService(service="orders", interval_s=100.0, offset_s=10.0, enabled=True)],
)


def project_with(v: StoreView, plan: RunnerPlan | None = PLAN, **changes: object) -> Snapshot:
    v = msgspec.structs.replace(v, plan=plan, **changes)
    return project(
        v,
        Settings(),
        POLICY,
        local_run=None,
        remote_progress={},
        holder_dead=False,
        is_runner=False,
    )


def test_next_runs_and_health_follow_the_runners_plan() -> None:
    stale = service("orders", last_success_at=NOW - timedelta(seconds=250))
    s = project_with(view([stale], []))
    orders = s.services[0]
    assert (orders.interval_s, orders.offset_s) == (100.0, 10.0)
    assert orders.next_run == NOW + timedelta(seconds=10)
    # over twice the runner's 100 s interval (this process's default is 30 minutes)
    assert orders.health.value == "degraded" and "100s interval" in orders.health_reasons[0]
    assert s.plan_holder == LEASE.holder and s.schedule == "running"


def test_the_runners_circuit_rules_give_the_cooldown() -> None:
    opened = service("orders", circuit=CircuitState.OPEN, circuit_opened_at=NOW)
    assert project_with(view([opened], [])).services[0].circuit_until == NOW + timedelta(seconds=60)


def test_a_store_override_wins_over_the_published_configuration() -> None:
    s = project_with(view([service("orders", interval_s=500.0, offset_s=None)], []))
    assert (s.services[0].interval_s, s.services[0].offset_s) == (500.0, 10.0)


def test_a_plan_of_another_runner_is_not_this_runners() -> None:
    other = msgspec.structs.replace(PLAN, holder="gone:2")
    s = project_with(view([service("orders")], []), plan=other)
    assert s.plan_holder is None and s.services[0].interval_s == Settings().interval_s("orders")


def test_the_schedule_state_says_disabled_paused_or_no_runner() -> None:
    off = msgspec.structs.replace(PLAN, schedule=False)
    disabled = project_with(view([service("orders")], []), plan=off)
    assert disabled.schedule == "disabled" and disabled.services[0].next_run is None
    paused = project_with(view([service("orders")], []), controls=Controls(schedule_paused=True))
    assert paused.schedule == "paused"
    assert project_with(view([service("orders")], [], lease=None)).schedule == "none"
