"""The entity services: the built-in four (or their simulated stand-ins) and the
operator's own, each with the source its rows come from (a sql or a rest `[sources.NAME]`).

An entity service is built on first use, in a worker thread (`DeferredService`):
the sync engine and the record models (pydantic) are not imported on the way to
a console's first frame or a CLI command that never syncs. Building one raises
nothing the settings did not already validate. A source's secrets (sql `url_file`, a
rest source's token, password or key files and environment variables) are read when its
factory is made (`entity_sources`): a file that cannot be read or a variable that is not
set is a ConfigError naming the key, never showing a secret.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import ConfigError, Settings, read_secret_file
from core.config.entities import SqlSourceSettings, configured_entities
from core.config.rest import RestSourceSettings
from core.entities import ENTITIES, STAGGER_ORDER, EntitySpec
from core.models import RunCounts, SyncMode
from core.replica.base import Replica
from core.sync.service import RunContext, SyncService
from core.sync.simulated import SimulatedService

if TYPE_CHECKING:
    from core.demo import DemoERP
    from core.sources.base import Source
    from core.sources.rest.mapping import RestEntity, RestSourceSpec
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
    assert isinstance(config, SqlSourceSettings)  # the caller's choice
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


def rest_source_factory(
    spec: RestSourceSpec, mappings: dict[str, RestEntity]
) -> Callable[[], Source]:
    """A `[sources.NAME]` of kind rest, made per run (its token bucket and OAuth token live
    as long as the run); httpx is imported then."""

    def make() -> Source:
        from core.sources.rest.source import RestSource

        return RestSource(spec, mappings)

    return make


def rest_source_spec(name: str, config: RestSourceSettings) -> RestSourceSpec:
    """What the rest source reads, its secrets read from their files or the environment.

    Raises ConfigError naming the key when a file cannot be read or a variable is unset."""
    from core.sources.rest.mapping import RestAuth, RestSourceSpec

    auth = RestAuth()
    given = config.auth
    if given is not None:
        where = f"sources.{name}.auth"
        kind = given.kind
        files = {
            "bearer": ("token", given.token_file, given.token_env),
            "basic": ("password", given.password_file, given.password_env),
            "api_key": ("value", given.value_file, given.value_env),
            "oauth2_client_credentials": (
                "client_secret",
                given.client_secret_file,
                given.client_secret_env,
            ),
        }
        secret, file, env = files[kind]
        value = _secret(f"{where}.{secret}", file, env)
        auth = RestAuth(
            kind=kind,
            token=value if secret == "token" else None,
            username=given.username,
            password=value if secret == "password" else None,
            name=given.name,
            location=given.location or "header",
            value=value if secret == "value" else None,
            token_url=given.token_url,
            client_id=given.client_id,
            client_secret=value if secret == "client_secret" else None,
            scope=given.scope,
        )
    return RestSourceSpec(
        name=name,
        base_url=config.base_url,
        auth=auth,
        timeout_s=config.timeout_s,
        rate_limit_per_s=config.rate_limit_per_s,
        headers=dict(config.headers),
        timezone=config.timezone,
        max_retry_after_s=config.max_retry_after_s,
    )


def _secret(key: str, file: Path | None, env: str | None) -> str:
    """A secret from its file (`key`_file) or its environment variable (`key`_env)."""
    if file is not None:
        return read_secret_file(file, f"{key}_file")
    assert env is not None  # validated: exactly one of the two
    value = os.environ.get(env, "").strip()
    if not value:
        state = "is empty" if env in os.environ else "is not set"
        raise ConfigError(f"{key}_env: the environment variable {env} {state}")
    return value


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
        from core.runtime.entities import configured_spec, rest_mapping, sql_mapping

        rest_specs: dict[str, RestSourceSpec] = {}  # each rest source's secrets read once
        for name, entity in own.items():
            spec = configured_spec(name, entity, settings)
            assert entity.source is not None  # validated
            config = settings.sources[entity.source]
            if isinstance(config, RestSourceSettings):
                if entity.source not in rest_specs:
                    rest_specs[entity.source] = rest_source_spec(entity.source, config)
                rest = {name: rest_mapping(spec, entity)}
                found[name] = (spec, rest_source_factory(rest_specs[entity.source], rest))
            else:
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
