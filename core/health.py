"""Health rules and the circuit breaker: pure decisions the orchestrator records.

Health says whether the replica of a service can be trusted now; the circuit
breaker stops hammering an ERP that keeps failing and probes it once after a
cooldown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import msgspec

from core.models import HEALTH_RANK, CircuitState, HealthState, RunOutcome, ServiceState


class BreakerUpdate(msgspec.Struct, frozen=True):
    """What the breaker decided: the state a run's end leaves the circuit in."""

    circuit: CircuitState
    consecutive_failures: int
    opened_at: datetime | None


class CircuitPolicy(msgspec.Struct, frozen=True):
    failure_threshold: int = 3
    cooldown_s: float = 300.0


def cooldown_over(state: ServiceState, now: datetime, policy: CircuitPolicy) -> bool:
    if state.circuit != CircuitState.OPEN or state.circuit_opened_at is None:
        return True
    return now - state.circuit_opened_at >= timedelta(seconds=policy.cooldown_s)


def cooldown_ends(state: ServiceState, policy: CircuitPolicy) -> datetime | None:
    """When an open circuit's cooldown ends (the probe may run then); None unless open."""
    if state.circuit != CircuitState.OPEN or state.circuit_opened_at is None:
        return None
    return state.circuit_opened_at + timedelta(seconds=policy.cooldown_s)


def after_run(
    state: ServiceState, outcome: RunOutcome, now: datetime, policy: CircuitPolicy
) -> BreakerUpdate:
    """The breaker's next state once a run of this service ended.

    Cancelled and interrupted runs say nothing about the ERP, so they leave the
    breaker as it was (a half-open probe that was cancelled stays open).
    """
    if outcome == RunOutcome.SUCCEEDED:
        return BreakerUpdate(CircuitState.CLOSED, 0, None)
    if outcome in (RunOutcome.CANCELLED, RunOutcome.INTERRUPTED):
        circuit = CircuitState.OPEN if state.circuit == CircuitState.HALF_OPEN else state.circuit
        return BreakerUpdate(circuit, state.consecutive_failures, state.circuit_opened_at)
    failures = state.consecutive_failures + 1
    if state.circuit == CircuitState.HALF_OPEN or failures >= policy.failure_threshold:
        return BreakerUpdate(CircuitState.OPEN, failures, now)
    return BreakerUpdate(CircuitState.CLOSED, failures, None)


def evaluate(
    state: ServiceState, interval_s: float, now: datetime, policy: CircuitPolicy
) -> tuple[HealthState, list[str]]:
    """Health of one service, with the reasons an operator needs to act on it."""
    reasons: list[str] = []
    health = HealthState.HEALTHY
    if state.circuit != CircuitState.CLOSED:
        reasons.append(f"circuit {state.circuit.value.replace('_', '-')}")
        health = HealthState.UNHEALTHY
    if state.consecutive_failures >= policy.failure_threshold:
        reasons.append(f"{state.consecutive_failures} consecutive failures")
        health = HealthState.UNHEALTHY
    elif state.consecutive_failures > 0:
        n = state.consecutive_failures
        reasons.append(f"{n} consecutive failure{'s' if n > 1 else ''}")
        health = worst([health, HealthState.DEGRADED])
    stale_after = timedelta(seconds=2 * interval_s)
    if state.last_success_at is not None:
        if now - state.last_success_at > stale_after:
            age = int((now - state.last_success_at).total_seconds())
            reasons.append(f"last success {age}s ago (over twice the {int(interval_s)}s interval)")
            health = worst([health, HealthState.DEGRADED])
    elif now - state.registered_at > stale_after:
        reasons.append("never synced successfully")
        health = worst([health, HealthState.DEGRADED])
    return health, reasons


def worst(states: Iterable[HealthState]) -> HealthState:
    return max(states, key=lambda s: HEALTH_RANK[s], default=HealthState.HEALTHY)
