"""The circuit breaker: it stops hammering an ERP that keeps failing, and probes it
once after a cooldown.

Pure decisions over a service's state; the store records them in the run's
finishing transaction (`RunFinish`). Nothing here raises.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from core.models import CircuitState, RunOutcome, ServiceState


class BreakerUpdate(msgspec.Struct, frozen=True):
    """What the breaker decided: the state a run's end leaves the circuit in."""

    circuit: CircuitState
    consecutive_failures: int
    opened_at: datetime | None


class BreakerRules(msgspec.Struct, frozen=True):
    """When the circuit opens, and how long it stays open before its probe."""

    failure_threshold: int = 3
    cooldown_s: float = 300.0


def cooldown_over(state: ServiceState, now: datetime, rules: BreakerRules) -> bool:
    if state.circuit != CircuitState.OPEN or state.circuit_opened_at is None:
        return True
    return now - state.circuit_opened_at >= timedelta(seconds=rules.cooldown_s)


def cooldown_ends(state: ServiceState, rules: BreakerRules) -> datetime | None:
    """When an open circuit's cooldown ends (the probe may run then); None unless open."""
    if state.circuit != CircuitState.OPEN or state.circuit_opened_at is None:
        return None
    return state.circuit_opened_at + timedelta(seconds=rules.cooldown_s)


def after_run(
    state: ServiceState, outcome: RunOutcome, now: datetime, rules: BreakerRules
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
    if state.circuit == CircuitState.HALF_OPEN or failures >= rules.failure_threshold:
        return BreakerUpdate(CircuitState.OPEN, failures, now)
    return BreakerUpdate(CircuitState.CLOSED, failures, None)
