"""The queue's transitions: merge on enqueue, cancel, priority, and end or requeue."""

from __future__ import annotations

from datetime import datetime

import msgspec

from core import queue_order
from core.errors import InvalidTransition, StoreError
from core.models import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    CircuitState,
    Event,
    EventKind,
    RequestSource,
    RequestState,
    RunOutcome,
    SyncMode,
    SyncRequest,
)
from core.store.base import EnqueueResult
from core.store.tx import Tx

replace = msgspec.structs.replace

OPERATORS_NOT = frozenset({RequestSource.SCHEDULE, RequestSource.RETRY})
"""Sources that are not an operator: the priority they carry never undoes an operator's."""


def check_priority(priority: int) -> None:
    """Raises StoreError for a priority out of range."""
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise StoreError(
            f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}, not {priority}"
        )


def enqueue(
    tx: Tx,
    now: datetime,
    service: str,
    mode: SyncMode,
    priority: int | None,
    source: RequestSource,
) -> EnqueueResult:
    """Queue a request, or merge it into the service's queued one (principle 4).

    Raises StoreError (priority out of range), NotFound (service)."""
    if priority is not None:
        check_priority(priority)
    state, queued = tx.service_and_queued(service)
    wanted = state.default_priority if priority is None else priority
    operator = source not in OPERATORS_NOT and priority is not None
    if queued is not None:
        merged = queue_order.merge(queued, mode, wanted, operator)
        # An operator asking now should not wait out a retry's backoff; the schedule should.
        not_before = queued.not_before if source == RequestSource.SCHEDULE else None
        updated = replace(
            queued,
            mode=merged.mode,
            priority=merged.priority,
            merged=queued.merged + 1,
            not_before=not_before,
            priority_set=merged.priority_set,
        )
        tx.update_request(
            queued.id,
            mode=updated.mode,
            priority=updated.priority,
            merged=updated.merged,
            not_before=not_before,
            priority_set=updated.priority_set,
        )
        event = tx.emit(
            now,
            EventKind.REQUEST_MERGED,
            service,
            queued.id,
            mode=merged.mode.value,
            priority=merged.priority,
            source=source.value,
        )
        return EnqueueResult(updated, True, [event])
    request = SyncRequest(
        id=0,
        service=service,
        mode=mode,
        priority=wanted,
        state=RequestState.QUEUED,
        source=source,
        requested_at=now,
        priority_set=operator,
    )
    request = replace(request, id=tx.insert_request(request))
    event = tx.emit(
        now,
        EventKind.REQUEST_QUEUED,
        service,
        request.id,
        mode=mode.value,
        priority=wanted,
        source=source.value,
    )
    return EnqueueResult(request, False, [event])


def set_priority(
    tx: Tx, now: datetime, request_id: int, priority: int | None, delta: int = 0
) -> list[Event]:
    """Only a queued request's priority changes: to `priority`, or, with `priority` None,
    by `delta` from what the request has in this transaction (kept in range), so that every
    press of every operator counts, however many press at once. It is an operator's from
    then on (`priority_set`): a scheduled merge leaves it.

    Raises StoreError (range), NotFound, InvalidTransition (not queued)."""
    if priority is not None:
        check_priority(priority)
    request = tx.request(request_id)
    if request.state != RequestState.QUEUED:
        raise InvalidTransition(
            f"request #{request_id} is {request.state.value}; only a queued request's "
            "priority can change"
        )
    if priority is None:
        priority = min(MAX_PRIORITY, max(MIN_PRIORITY, request.priority + delta))
    tx.update_request(request_id, priority=priority, priority_set=True)
    return [
        tx.emit(
            now,
            EventKind.PRIORITY_CHANGED,
            request.service,
            request_id,
            old=request.priority,
            new=priority,
        )
    ]


def cancel(tx: Tx, now: datetime, request_id: int) -> tuple[SyncRequest, list[Event]]:
    """A queued request ends at once; a running one is asked to stop (its runner ends it).
    A queued request that was to probe a half-open circuit leaves it open again, as a
    cancelled probe run does (`core.breaker.after_run`), its cooldown as it was.

    Raises NotFound, InvalidTransition (already ended)."""
    request = tx.request(request_id)
    if request.state == RequestState.QUEUED:
        ended = replace(
            request,
            state=RequestState.CANCELLED,
            outcome=RunOutcome.CANCELLED,
            finished_at=now,
        )
        tx.update_request(
            request_id, state=ended.state, outcome=ended.outcome, finished_at=ended.finished_at
        )
        event = tx.emit(now, EventKind.REQUEST_CANCELLED, request.service, request_id)
        return ended, [event, *_probe_called_off(tx, now, request)]
    if request.state == RequestState.RUNNING:
        if request.cancel_requested:
            return request, []
        tx.update_request(request_id, cancel_requested=True)
        event = tx.emit(now, EventKind.REQUEST_CANCEL_ASKED, request.service, request_id)
        return replace(request, cancel_requested=True), [event]
    raise InvalidTransition(f"request #{request_id} already ended ({request.state.value})")


def _probe_called_off(tx: Tx, now: datetime, request: SyncRequest) -> list[Event]:
    """The circuit open again when the queued request just cancelled was to probe it: its
    service's circuit is half-open (`services.probe_now`) and nothing of it is running."""
    state = tx.service(request.service)
    if state.circuit != CircuitState.HALF_OPEN:
        return []
    if any(r.service == request.service for r in tx.running_requests()):
        return []  # the probe is running; this request was queued behind it
    tx.update_service(request.service, circuit=CircuitState.OPEN)
    return [
        tx.emit(
            now,
            EventKind.CIRCUIT_CHANGED,
            request.service,
            request.id,
            circuit=CircuitState.OPEN.value,
            failures=state.consecutive_failures,
        )
    ]


def end_or_requeue(
    tx: Tx,
    now: datetime,
    request: SyncRequest,
    outcome: RunOutcome,
    retry_at: datetime | None,
) -> tuple[SyncRequest, list[Event]]:
    """End a running request, or queue it again for another try.

    A cancel that was asked wins over a retry. An interrupted run keeps its
    attempt number (it says nothing about the ERP); any other retry counts one
    more. If a newer request for the service is already queued, the retry merges
    into it instead: one the schedule made waits out the backoff, one an
    operator made runs as soon as it can (as in `enqueue`).
    Returns the request as it now is, and the events."""
    service, rid = request.service, request.id
    if request.cancel_requested and outcome != RunOutcome.SUCCEEDED:
        outcome, retry_at = RunOutcome.CANCELLED, None
    events: list[Event] = []
    if retry_at is not None:
        attempt = request.attempt if outcome == RunOutcome.INTERRUPTED else request.attempt + 1
        queued = tx.queued_for(service)
        if queued is None:
            tx.update_request(
                rid,
                state=RequestState.QUEUED,
                started_at=None,
                attempt=attempt,
                not_before=retry_at,
            )
            requeued = replace(
                request,
                state=RequestState.QUEUED,
                started_at=None,
                attempt=attempt,
                not_before=retry_at,
            )
            event = tx.emit(
                now,
                EventKind.REQUEST_RETRY,
                service,
                rid,
                attempt=attempt,
                not_before=retry_at.timestamp(),
                after=outcome.value,
            )
            return requeued, [event]
        merged = queue_order.merge(queued, request.mode, request.priority, request.priority_set)
        tx.update_request(
            queued.id,
            mode=merged.mode,
            priority=merged.priority,
            priority_set=merged.priority_set,
            merged=queued.merged + 1,
            attempt=max(queued.attempt, attempt),
            not_before=retry_at if queued.source == RequestSource.SCHEDULE else None,
        )
        events.append(
            tx.emit(
                now,
                EventKind.REQUEST_MERGED,
                service,
                queued.id,
                mode=merged.mode.value,
                priority=merged.priority,
                source=RequestSource.RETRY.value,
                superseded=rid,
            )
        )
    cancelled = outcome == RunOutcome.CANCELLED
    state = RequestState.CANCELLED if cancelled else RequestState.FINISHED
    tx.update_request(rid, state=state, outcome=outcome, finished_at=now)
    kind = EventKind.REQUEST_CANCELLED if cancelled else EventKind.REQUEST_FINISHED
    events.append(tx.emit(now, kind, service, rid, outcome=outcome.value))
    return replace(request, state=state, outcome=outcome, finished_at=now), events
