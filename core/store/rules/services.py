"""Per-service state and the global controls: registration, defaults, overrides, health."""

from __future__ import annotations

from datetime import datetime

import msgspec

from core.models import (
    Controls,
    Event,
    EventKind,
    HealthState,
)
from core.store.rules.queue import check_priority
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
