"""Which services exist: the built-in four, plus any a package registers.

A third-party package adds a service by declaring an entry point in the
`syncdeck.services` group whose object is a callable taking the `Settings` and
returning a `SyncService`.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import os
import sys
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from core.config import STAGGER_ORDER, Settings
from core.models import RunCounts, SyncMode
from core.services.base import RunContext, SyncService
from core.services.simulated import SimulatedService
from core.sources.base import Source
from core.store.sqlite import DB_FILENAME

if TYPE_CHECKING:
    from core.demo import DemoERP

ENTRY_POINT_GROUP = "syncdeck.services"


def source_factory(settings: Settings) -> Callable[[], Source]:
    """Sources are made per run; the demo ERP's database is opened once, on first use."""
    if settings.source.kind == "http":
        from core.sources.http import HttpSource

        url, token, timeout = (
            settings.source.url or "",
            settings.source.token,
            settings.source.timeout_s,
        )
        return lambda: HttpSource(url, token=token, timeout_s=timeout)
    erp: list[DemoERP] = []

    def demo() -> Source:
        from core.demo import DemoSource, open_demo_erp

        if not erp:
            erp.append(open_demo_erp(settings))
        return DemoSource(erp[0], settings.demo.faults)

    return demo


def builtin_services(settings: Settings) -> dict[str, SyncService]:
    """The four entity services (or their simulated stand-ins, with source.kind = simulated)."""
    if settings.source.kind == "simulated":
        sim = settings.simulation
        return {
            name: SimulatedService(name, sim.run_seconds, sim.rows, sim.failure_rate)
            for name in STAGGER_ORDER
        }
    source = source_factory(settings)
    return {
        name: DeferredService(name, partial(_entity_service, name, source, settings))
        for name in STAGGER_ORDER
    }


def _entity_service(name: str, source: Callable[[], Source], settings: Settings) -> SyncService:
    from core.services.engine import EngineSettings, EntitySyncService
    from core.services.entities import ENTITIES

    engine = EngineSettings(
        batch_size=settings.sync.batch_size,
        full_threshold=settings.sync.full_threshold,
        full_every_s=settings.sync.full_every_h * 3600,
    )
    return EntitySyncService(ENTITIES[name], source, settings.data_dir / DB_FILENAME, engine)


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


def load_services(settings: Settings) -> dict[str, SyncService]:
    services = builtin_services(settings)
    if may_declare_entry_points(ENTRY_POINT_GROUP):
        from importlib.metadata import entry_points

        for entry in entry_points(group=ENTRY_POINT_GROUP):
            service = entry.load()(settings)
            services[service.name] = service
    return services


def may_declare_entry_points(group: str) -> bool:
    """False only when no installed distribution can declare an entry point in `group`.

    `importlib.metadata` costs about 12 ms to import, which every `syncdeck` start would
    pay to find, nearly always, no plugin at all; reading the few dozen entry_points.txt
    files it would read costs about 1 ms. Whatever this cannot look into (a zip file on
    the path, a finder with distributions of its own) counts as a yes, and then
    `importlib.metadata` decides."""
    if any(
        hasattr(finder, "find_distributions") and finder is not importlib.machinery.PathFinder
        for finder in sys.meta_path
    ):
        return True
    needle = f"[{group}]".encode()
    for entry in sys.path:
        directory = entry or "."
        if os.path.isfile(directory):
            return True
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(directory, name, "entry_points.txt"), "rb") as file:
                    if needle in file.read():
                        return True
            except OSError:
                continue
    return False
