"""The entity services: the built-in four (or their simulated stand-ins) and the
operator's own, each with the source its rows come from.

An entity service is built on first use, in a worker thread (`DeferredService`):
the sync engine and the record models (pydantic) are not imported on the way to
a console's first frame or a CLI command that never syncs. Building one raises
nothing the settings did not already validate.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from core.config import Settings, read_secret_file
from core.config.entities import configured_entities
from core.entities import ENTITIES, STAGGER_ORDER, EntitySpec
from core.models import RunCounts, SyncMode
from core.replica.base import Replica
from core.sources.base import Source
from core.sync.service import RunContext, SyncService
from core.sync.simulated import SimulatedService

if TYPE_CHECKING:
    from core.demo import DemoERP
    from core.sources.sql.mapping import SqlEntity


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
    draws = itertools.count()

    def demo() -> Source:
        from core.demo import DemoSource, open_demo_erp

        if not erp:
            erp.append(open_demo_erp(settings))
        return DemoSource(erp[0], settings.demo.faults, draw=next(draws))

    return demo


def sql_source_factory(
    settings: Settings, source_name: str, mappings: dict[str, SqlEntity]
) -> Callable[[], Source]:
    """A `[sources.NAME]` of kind sql, made per run; SQLAlchemy is imported then.

    Raises ConfigError when its `url_file` cannot be read."""
    config = settings.sources[source_name]
    url = config.url
    if config.url_file is not None:
        url = read_secret_file(config.url_file, f"sources.{source_name}.url_file")
    assert url is not None  # validated: url or url_file

    def make() -> Source:
        from core.sources.sql.source import SqlSource

        return SqlSource(
            url,
            mappings,
            zone=config.timezone,
            source_name=source_name,
            connect_timeout_s=config.connect_timeout_s,
            query_timeout_s=config.query_timeout_s,
        )

    return make


def entity_sources(settings: Settings) -> dict[str, tuple[EntitySpec, Callable[[], Source]]]:
    """Every entity this configuration syncs, with where its rows come from: `[source]`
    for the built-in ones, its `[sources.NAME]` for a configured one.

    Raises ConfigError when a source's secret file cannot be read."""
    keep_builtin, own = configured_entities(settings.entities)
    found: dict[str, tuple[EntitySpec, Callable[[], Source]]] = {}
    if keep_builtin:
        builtin = source_factory(settings)
        found.update({name: (ENTITIES[name], builtin) for name in STAGGER_ORDER})
    if own:
        from core.runtime.entities import configured_spec, sql_mapping

        for name, entity in own.items():
            spec = configured_spec(name, entity, settings)
            assert entity.source is not None  # validated
            mapping = {name: sql_mapping(spec, entity)}
            found[name] = (spec, sql_source_factory(settings, entity.source, mapping))
    return found


def entity_services(
    settings: Settings,
    replica: Replica,
    before_batch_commit: Callable[[int], None] | None = None,
) -> dict[str, SyncService]:
    """An entity service per entity, writing into `replica`; with source.kind = simulated,
    the built-in ones are stand-ins that write nothing. `before_batch_commit`: a test's
    hook into their engines (`core.sync.engine`)."""
    services: dict[str, SyncService] = {}
    for name, (spec, source) in entity_sources(settings).items():
        if spec.source is None and settings.source.kind == "simulated":
            sim = settings.simulation
            services[name] = SimulatedService(name, sim.run_seconds, sim.rows, sim.failure_rate)
        else:
            build = partial(_entity_service, spec, source, replica, settings, before_batch_commit)
            services[name] = DeferredService(name, build)
    return services


def _entity_service(
    spec: EntitySpec,
    source: Callable[[], Source],
    replica: Replica,
    settings: Settings,
    before_batch_commit: Callable[[int], None] | None,
) -> SyncService:
    from core.sync.engine import EngineSettings, EntitySyncService

    engine = EngineSettings(
        batch_size=settings.sync.batch_size,
        full_threshold=settings.sync.full_threshold,
        full_every_s=settings.sync.full_every_h * 3600,
    )
    return EntitySyncService(spec, source, replica, engine, before_batch_commit=before_batch_commit)


class DeferredService:
    """A service built on first use, in a worker thread.

    The entity services bring the sync engine and the ERP record models (pydantic),
    slow to import and build: every `syncdeck` command would pay that at start, and a
    console on its event loop, for services it may not run for minutes."""

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
