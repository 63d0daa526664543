"""What an `Orchestrator` tells an optional listener of this process's own changes.

A listener (webhook notifications: `core.notify.Notifier`) is told the events
this process caused, never those relayed from other processes' log, and its
store's trouble as this process meets it; it starts and stops with the
orchestrator. The orchestrator imports no listener: it holds whatever it is given.

Failures: every call must return at once and raise nothing: they are made on the
runner's path (a run's record, a heartbeat).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from core.models import Event


class Listener(Protocol):
    def start(self, host: str, holder: str, holds_lease: Callable[[], bool]) -> None:
        """The orchestrator started; `holds_lease()` says whether it is the runner now."""

    def own_events(self, events: list[Event]) -> None:
        """Events this process caused, in the order it published them."""

    def store_changed(self, problem: str | None, broken: bool) -> None:
        """The store's trouble began or changed (`problem`; `broken`: for good), or ended."""

    async def stop(self) -> None:
        """The orchestrator stopped (after its last run was recorded)."""
