"""Health: whether the replica of a service can be trusted now, with the reasons; and
whether the running sync still runs as it should.

Pure functions of a service's state, its interval and the breaker's rules, and of
what the store says of the running run (`run_condition`: stalled, orphaned). Every
process applies them to the same store, so every front end (console, `status`, the
API) says the same thing. `elapsed` writes a span of time for people, the one format
every front end uses. Nothing here raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import msgspec

from core.breaker import BreakerRules
from core.models import HEALTH_RANK, CircuitState, HealthState, ServiceState

RUNNING, STALLED, ORPHANED = "running", "stalled", "orphaned"
ORPHANED_NOTE = "orphaned: its runner is gone; it is requeued when a runner starts"


def elapsed(seconds: float) -> str:
    """A span of time for people, in whole units and never rounded up, so that a value
    that ticks keeps one format: 0s, 9s, 12s, 1m12s, 2h05m, 3d04h, 12d."""
    minutes, secs = divmod(int(max(0.0, seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days >= 10:
        return f"{days}d"
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class RunCondition(msgspec.Struct, frozen=True):
    """How the running sync is doing, as every process can tell from the store."""

    state: str
    """running, stalled or orphaned."""
    quiet_s: float
    """Seconds since it last moved (its last stored report, or its start)."""
    note: str | None = None
    """The sentence an operator is shown while it is not running; its service's health
    reason too."""


def run_condition(
    started_at: datetime,
    moved_at: datetime | None,
    now: datetime,
    stall_s: float,
    runner_alive: bool,
) -> RunCondition:
    """The running run's condition, the first that holds:
    - orphaned: no live runner holds the lease (or not the one that started it); nothing
      moves it until a runner takes over, which records it interrupted and queues it again;
    - stalled: it has not moved for `stall_s` (`moved_at`: when its runner last stored a
      report that moved, on the store's clock; None: since it started);
    - running."""
    quiet_s = max(0.0, (now - (moved_at or started_at)).total_seconds())
    if not runner_alive:
        return RunCondition(ORPHANED, quiet_s, ORPHANED_NOTE)
    if quiet_s >= stall_s:
        return RunCondition(STALLED, quiet_s, f"stalled: no progress for {elapsed(quiet_s)}")
    return RunCondition(RUNNING, quiet_s)


def service_health(
    state: ServiceState,
    interval_s: float,
    now: datetime,
    rules: BreakerRules,
    run: RunCondition | None = None,
) -> tuple[HealthState, list[str]]:
    """Health of one service, with the reasons an operator needs to act on it. `run`: the
    condition of its sync if it is the one running; stalled or orphaned, it degrades."""
    reasons: list[str] = []
    health = HealthState.HEALTHY
    if state.circuit != CircuitState.CLOSED:
        reasons.append(f"circuit {state.circuit.value.replace('_', '-')}")
        health = HealthState.UNHEALTHY
    if state.consecutive_failures >= rules.failure_threshold:
        reasons.append(f"{state.consecutive_failures} consecutive failures")
        health = HealthState.UNHEALTHY
    elif state.consecutive_failures > 0:
        n = state.consecutive_failures
        reasons.append(f"{n} consecutive failure{'s' if n > 1 else ''}")
        health = overall_health([health, HealthState.DEGRADED])
    if run is not None and run.note is not None:
        reasons.append(run.note)
        health = overall_health([health, HealthState.DEGRADED])
    stale_after = timedelta(seconds=2 * interval_s)
    if state.last_success_at is not None:
        if now - state.last_success_at > stale_after:
            age = int((now - state.last_success_at).total_seconds())
            reasons.append(f"last success {age}s ago (over twice the {int(interval_s)}s interval)")
            health = overall_health([health, HealthState.DEGRADED])
    elif now - state.registered_at > stale_after:
        reasons.append("never synced successfully")
        health = overall_health([health, HealthState.DEGRADED])
    return health, reasons


def overall_health(states: Iterable[HealthState]) -> HealthState:
    return max(states, key=lambda s: HEALTH_RANK[s], default=HealthState.HEALTHY)
