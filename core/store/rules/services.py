"""Per-service state and the global controls: registration, defaults, overrides, health,
and an operator's probe of an open circuit."""

from __future__ import annotations

from datetime import datetime

import msgspec

from core.errors import InvalidTransition
from core.models import (
    CircuitState,
    Controls,
    Event,
    EventKind,
    HealthState,
    RequestSource,
    SyncMode,
    SyncRequest,
)
from core.store.rules.queue import check_priority, enqueue
from core.store.tx import Tx

replace = msgspec.structs.replace


def register_services(tx: Tx, now: datetime, defaults: dict[str, int]) -> None:
    for name, priority in defaults.items():
        tx.add_service(name, priority, now)


def set_default_priority(tx: Tx, now: datetime, service: str, priority: int) -> list[Event]:
    """Raises StoreError (range), NotFound (service)."""
    check_priority(priority)
    old = tx.service(service).default_priority
    tx.update_service(service, default_priority=priority)
    return [tx.emit(now, EventKind.DEFAULT_PRIORITY_CHANGED, service, old=old, new=priority)]


def set_schedule(
    tx: Tx,
    now: datetime,
    service: str,
    interval_s: float | None,
    offset_s: float | None,
    enabled: bool | None,
) -> list[Event]:
    """Raises NotFound (service)."""
    tx.service(service)
    tx.update_service(service, interval_s=interval_s, offset_s=offset_s, schedule_enabled=enabled)
    return [
        tx.emit(
            now,
            EventKind.SCHEDULE_CHANGED,
            service,
            interval_s=interval_s,
            offset_s=offset_s,
            enabled=enabled,
        )
    ]


def set_health(
    tx: Tx, now: datetime, service: str, health: HealthState, reasons: list[str]
) -> list[Event]:
    """Raises NotFound (service)."""
    old = tx.service(service).health
    tx.update_service(service, health=health, health_reasons=reasons)
    return [
        tx.emit(
            now, EventKind.HEALTH_CHANGED, service, old=old.value, new=health.value, reasons=reasons
        )
    ]


def set_controls(
    tx: Tx, now: datetime, dispatch_paused: bool | None, schedule_paused: bool | None
) -> list[Event]:
    """Only a real change is written and announced."""
    current = tx.controls()
    wanted = Controls(
        dispatch_paused=current.dispatch_paused if dispatch_paused is None else dispatch_paused,
        schedule_paused=current.schedule_paused if schedule_paused is None else schedule_paused,
    )
    if wanted == current:
        return []
    tx.write_controls(wanted)
    events: list[Event] = []
    if wanted.dispatch_paused != current.dispatch_paused:
        paused = wanted.dispatch_paused
        events.append(
            tx.emit(now, EventKind.DISPATCH_PAUSED if paused else EventKind.DISPATCH_RESUMED)
        )
    if wanted.schedule_paused != current.schedule_paused:
        paused = wanted.schedule_paused
        events.append(
            tx.emit(now, EventKind.SCHEDULE_PAUSED if paused else EventKind.SCHEDULE_RESUMED)
        )
    return events


PROBE_SOURCES: dict[str, RequestSource] = {"cli": RequestSource.CLI, "api": RequestSource.API}
"""The source of the request a probe queues, by who asked (`by`); anyone else's: manual."""


def probe_now(
    tx: Tx, now: datetime, service: str, by: str, subject: str | None
) -> tuple[SyncRequest, list[Event]]:
    """An operator lets an open circuit's probe run now instead of after its cooldown.

    The circuit goes half-open, so the service's next run is its probe and the breaker
    judges it as one (`core.breaker.after_run`: a success closes the circuit, a failure
    opens it again with a fresh cooldown). The service's queued request may then start at
    once (a retry's backoff is dropped too); with none queued, one is (mode auto, the
    default priority, the source `by` names: `PROBE_SOURCES`). Recorded as
    `circuit.probe_requested` with who asked (`by`, `subject`), then `circuit.changed`.
    Returns the request that probes, as it now is.

    Raises NotFound (service), InvalidTransition (the circuit is not open)."""
    state = tx.service(service)
    if state.circuit == CircuitState.CLOSED:
        raise InvalidTransition(f"the {service} circuit is closed: nothing to probe")
    if state.circuit == CircuitState.HALF_OPEN:
        raise InvalidTransition(
            f"the {service} circuit is already half-open: its probe runs or is about to"
        )
    source = PROBE_SOURCES.get(by, RequestSource.MANUAL)
    events: list[Event] = []
    request = tx.queued_for(service)
    queued = request is None
    if request is None:
        result = enqueue(tx, now, service, SyncMode.AUTO, None, source)
        request, events = result.request, list(result.events)
    elif request.not_before is not None:
        tx.update_request(request.id, not_before=None)
        request = replace(request, not_before=None)
    tx.update_service(service, circuit=CircuitState.HALF_OPEN)
    events.append(
        tx.emit(
            now,
            EventKind.CIRCUIT_PROBE_REQUESTED,
            service,
            request.id,
            by=by,
            subject=subject,
            source=source.value,
            queued=queued,
            failures=state.consecutive_failures,
        )
    )
    events.append(
        tx.emit(
            now,
            EventKind.CIRCUIT_CHANGED,
            service,
            request.id,
            circuit=CircuitState.HALF_OPEN.value,
            failures=state.consecutive_failures,
            by=by,
        )
    )
    return request, events
