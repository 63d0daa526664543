"""Which mode an auto run takes, and why: the reason goes into the run's record.

Pure: it reads a `SyncState` and the clock it is given, and never raises.
"""

from __future__ import annotations

from core.models import SyncMode
from core.replica.base import SyncState
from core.sync.entities import EntitySpec


def choose_mode(
    requested: SyncMode, state: SyncState, spec: EntitySpec, now: float, full_every_s: float
) -> tuple[SyncMode, str]:
    """Auto picks full when incremental could be wrong or stale, else incremental."""
    if requested != SyncMode.AUTO:
        return requested, f"{requested.value} requested"
    if state.cursor is None:
        return SyncMode.FULL, "no cursor yet"
    if state.needs_full:
        return SyncMode.FULL, state.needs_full
    if state.mapping_version != spec.mapping_version:
        return (
            SyncMode.FULL,
            f"mapping version changed ({state.mapping_version} -> {spec.mapping_version})",
        )
    if state.last_full_at is None or now - state.last_full_at > full_every_s:
        hours = full_every_s / 3600
        return SyncMode.FULL, f"last full run older than {hours:g} h"
    return SyncMode.INCREMENTAL, f"cursor {state.cursor}"
