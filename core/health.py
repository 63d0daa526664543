"""Health: whether the replica of a service can be trusted now, with the reasons.

Pure functions of a service's state, its interval and the breaker's rules.
Nothing here raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from core.breaker import BreakerRules
from core.models import HEALTH_RANK, CircuitState, HealthState, ServiceState


def service_health(
    state: ServiceState, interval_s: float, now: datetime, rules: BreakerRules
) -> tuple[HealthState, list[str]]:
    """Health of one service, with the reasons an operator needs to act on it."""
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
