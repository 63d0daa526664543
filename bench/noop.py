"""The services of the orchestrator benches: they do no work, so what is measured is the
orchestrator (and its store) alone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from core.config import Settings
from core.models import RunCounts, SyncMode
from core.orchestrator import Orchestrator
from core.store import Store
from core.sync.service import RunContext


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


def client(store: Store, data_dir: Path, names: tuple[str, ...]) -> Orchestrator:
    """An orchestrator that only asks, as a second process would: no runner, no schedule,
    the named no-op services."""
    services = {name: NoopService(name) for name in names}
    return Orchestrator(store, services, settings_for(data_dir), runner=False, schedule=False)


class NoopService:
    """A service that does nothing; `after_run` (if set) is awaited inside its run."""

    def __init__(
        self, name: str, after_run: Callable[[NoopService], Awaitable[None]] | None = None
    ) -> None:
        self.name = name
        self.after_run = after_run
        self.runs = 0

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        return (SyncMode.FULL if requested == SyncMode.AUTO else requested), "bench no-op"

    async def run(self, ctx: RunContext) -> RunCounts:
        self.runs += 1
        if self.after_run is not None:
            await self.after_run(self)
        return RunCounts()
