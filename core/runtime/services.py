"""The built-in services: the four entity services (or their simulated stand-ins).

An entity service is built on first use, in a worker thread (`DeferredService`):
the sync engine and the record models (pydantic) are not imported on the way to
a console's first frame or a CLI command that never syncs. Building one raises
nothing the settings did not already validate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from core.config import Settings, read_secret_file
from core.models import RunCounts, SyncMode
from core.replica.base import Replica
from core.sources.base import Source
from core.sync.entities import STAGGER_ORDER
from core.sync.service import RunContext, SyncService
from core.sync.simulated import SimulatedService

if TYPE_CHECKING:
    from core.demo import DemoERP


def source_factory(settings: Settings) -> Callable[[], Source]:
    """Sources are made per run; the demo ERP's database is opened once, on first use.

    Raises ConfigError when `source.token_file` cannot be read."""
    if settings.source.kind == "http":
        from core.sources.http import HttpSource

        url, token, timeout = (
            settings.source.url or "",
            settings.source.token,
            settings.source.timeout_s,
        )
        if settings.source.token_file is not None:
            token = read_secret_file(settings.source.token_file, "source.token_file")
        return lambda: HttpSource(url, token=token, timeout_s=timeout)
    erp: list[DemoERP] = []

    def demo() -> Source:
        from core.demo import DemoSource, open_demo_erp

        if not erp:
            erp.append(open_demo_erp(settings))
        return DemoSource(erp[0], settings.demo.faults)

    return demo


def builtin_services(
    settings: Settings,
    replica: Replica,
    before_batch_commit: Callable[[int], None] | None = None,
) -> dict[str, SyncService]:
    """The four entity services writing into `replica` (or their simulated stand-ins, with
    source.kind = simulated, which write nothing); `before_batch_commit`: a test's hook
    into their engines (`core.sync.engine`)."""
    if settings.source.kind == "simulated":
        sim = settings.simulation
        return {
            name: SimulatedService(name, sim.run_seconds, sim.rows, sim.failure_rate)
            for name in STAGGER_ORDER
        }
    source = source_factory(settings)
    return {
        name: DeferredService(
            name, partial(_entity_service, name, source, replica, settings, before_batch_commit)
        )
        for name in STAGGER_ORDER
    }


def _entity_service(
    name: str,
    source: Callable[[], Source],
    replica: Replica,
    settings: Settings,
    before_batch_commit: Callable[[int], None] | None,
) -> SyncService:
    from core.sync.engine import EngineSettings, EntitySyncService
    from core.sync.entities import ENTITIES

    engine = EngineSettings(
        batch_size=settings.sync.batch_size,
        full_threshold=settings.sync.full_threshold,
        full_every_s=settings.sync.full_every_h * 3600,
    )
    return EntitySyncService(
        ENTITIES[name], source, replica, engine, before_batch_commit=before_batch_commit
    )


class DeferredService:
    """A service built on first use, in a worker thread.

    The entity services bring the sync engine and the ERP record models (pydantic),
    whose import and schema building cost about 100 ms: every `syncdeck` command
    would pay that at start, and a console would pay it on its event loop, for
    services it may not run for minutes."""

    def __init__(self, name: str, build: Callable[[], SyncService]) -> None:
        self.name = name
        self._build = build
        self._service: SyncService | None = None
        self._lock = asyncio.Lock()

    async def service(self) -> SyncService:
        """The real service, built (once) if it was not yet."""
        async with self._lock:
            if self._service is None:
                self._service = await asyncio.to_thread(self._build)
            return self._service

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        return await (await self.service()).resolve_mode(requested)

    async def run(self, ctx: RunContext) -> RunCounts:
        return await (await self.service()).run(ctx)
