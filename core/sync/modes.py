"""Which mode a run takes, and why: the reason goes into the run's record.

The one rule, for every service (the entity engine and the simulated stand-ins) and
every caller: the runner when it starts a run, and a console or CLI asking beforehand
through `Orchestrator.resolve_mode`, so that what an operator is told is what runs.
An incremental run without a cursor would list everything without reconciling
deletions or recording a full pass, so the next auto run would be a second full one:
it runs as the full pass it is instead.

Pure: it reads a `SyncState` and the clock it is given, and never raises.
"""

from __future__ import annotations

from core.models import SyncMode
from core.replica.base import SyncState

NO_CURSOR = "no cursor yet"


def choose_mode(
    requested: SyncMode, state: SyncState, mapping_version: int, now: float, full_every_s: float
) -> tuple[SyncMode, str]:
    """Auto picks full when incremental could be wrong or stale, else incremental; an
    explicit mode is kept, but incremental needs a cursor to start from."""
    if requested == SyncMode.INCREMENTAL and state.cursor is None:
        return SyncMode.FULL, f"incremental requested, {NO_CURSOR}"
    if requested != SyncMode.AUTO:
        return requested, f"{requested.value} requested"
    if state.cursor is None:
        return SyncMode.FULL, NO_CURSOR
    if state.needs_full:
        return SyncMode.FULL, state.needs_full
    if state.mapping_version != mapping_version:
        return (
            SyncMode.FULL,
            f"mapping version changed ({state.mapping_version} -> {mapping_version})",
        )
    if state.last_full_at is None or now - state.last_full_at > full_every_s:
        hours = full_every_s / 3600
        return SyncMode.FULL, f"last full run older than {hours:g} h"
    return SyncMode.INCREMENTAL, f"cursor {state.cursor}"
