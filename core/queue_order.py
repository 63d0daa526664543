"""Queue ordering: coalescing, priority with aging, and the choice of the next run.

Pure functions over models and timestamps, so that every store applies the
same rules and the rules can be tested without a store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import msgspec

from core.breaker import BreakerRules, cooldown_ends
from core.models import MODE_STRENGTH, CircuitState, ServiceState, SyncMode, SyncRequest


class Merge(msgspec.Struct, frozen=True):
    mode: SyncMode
    priority: int
    priority_set: bool
    """Whether the merged request's priority is an operator's (`SyncRequest.priority_set`)."""


def merge(queued: SyncRequest, mode: SyncMode, priority: int, operator_priority: bool) -> Merge:
    """A new request folded into a queued one (principle 4): the stronger mode wins. The
    priority is the operator's when the new request names one (`operator_priority`), else
    stays the operator's on the queued request, else the higher of the two wins: a
    scheduled merge or a retry never undoes what an operator set."""
    stronger = mode if MODE_STRENGTH[mode] > MODE_STRENGTH[queued.mode] else queued.mode
    if operator_priority:
        return Merge(stronger, priority, True)
    if queued.priority_set:
        return Merge(stronger, queued.priority, True)
    return Merge(stronger, max(queued.priority, priority), False)


def effective_priority(request: SyncRequest, now: datetime, aging_step_s: float) -> float:
    """Base priority plus one point per `aging_step_s` waited: nothing waits forever.

    A request waiting on a retry backoff ages from when it became eligible, so a
    retry does not jump the queue by the time it spent backing off.
    """
    since = request.not_before or request.requested_at
    waited = max(0.0, (now - since).total_seconds())
    return request.priority + waited / aging_step_s


def queue_order(
    queued: Iterable[SyncRequest], now: datetime, aging_step_s: float
) -> list[tuple[SyncRequest, float]]:
    """Highest effective priority first; ties first come, first served."""
    scored = [(r, effective_priority(r, now, aging_step_s)) for r in queued]
    scored.sort(key=lambda pair: (-pair[1], pair[0].requested_at, pair[0].id))
    return scored


def dispatchable(
    request: SyncRequest,
    now: datetime,
    circuits: Mapping[str, CircuitState],
    cooldown_over: Mapping[str, bool],
) -> bool:
    """A request may start unless it is backing off or its circuit is open and cooling down."""
    if request.not_before is not None and request.not_before > now:
        return False
    circuit = circuits.get(request.service, CircuitState.CLOSED)
    return not (circuit == CircuitState.OPEN and not cooldown_over.get(request.service, False))


def choose_next(
    queued: Iterable[SyncRequest],
    now: datetime,
    aging_step_s: float,
    circuits: Mapping[str, CircuitState],
    cooldown_over: Mapping[str, bool],
) -> SyncRequest | None:
    for request, _ in queue_order(queued, now, aging_step_s):
        if dispatchable(request, now, circuits, cooldown_over):
            return request
    return None


def retry_delay(attempt: int, backoff_s: list[float]) -> float:
    """Delay before try `attempt + 1`; the last step repeats if there are more tries than steps."""
    if not backoff_s:
        return 0.0
    return backoff_s[min(attempt - 1, len(backoff_s) - 1)]


def ready_at(
    request: SyncRequest,
    state: ServiceState | None,
    now: datetime,
    breaker_rules: BreakerRules,
) -> tuple[datetime | None, str | None]:
    """When `request` may start (None: now) and what holds it, by `dispatchable`'s
    rules: a backoff until `not_before`, an open circuit until its cooldown ends."""
    at: datetime | None = None
    blocked_by: str | None = None
    if request.not_before is not None and request.not_before > now:
        at, blocked_by = request.not_before, "backoff"
    cooled = None if state is None else cooldown_ends(state, breaker_rules)
    if cooled is not None and cooled > now and (at is None or cooled > at):
        at, blocked_by = cooled, "circuit open"
    return at, blocked_by
