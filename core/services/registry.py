"""Which services exist: the built-in four, plus any a package registers.

A third-party package adds a service by declaring an entry point in the
`syncdeck.services` group whose object is a callable taking the `Settings` and
returning a `SyncService`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from core.config import STAGGER_ORDER, Settings
from core.services.base import SyncService
from core.services.engine import EngineSettings, EntitySyncService
from core.services.entities import ENTITIES
from core.services.simulated import SimulatedService
from core.sources.base import Source
from core.sources.demo import DEMO_FILENAME, DemoERP, DemoSource
from core.store.sqlite import DB_FILENAME

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
        if not erp:
            erp.append(open_demo_erp(settings))
        return DemoSource(erp[0], settings.demo.faults)

    return demo


def open_demo_erp(settings: Settings) -> DemoERP:
    demo = settings.demo
    return DemoERP(
        settings.data_dir / DEMO_FILENAME,
        seed=demo.seed,
        sizes=demo.sizes,
        changes_per_minute=demo.changes_per_minute,
    )


def builtin_services(settings: Settings) -> dict[str, SyncService]:
    """The four entity services (or their simulated stand-ins, with source.kind = simulated)."""
    if settings.source.kind == "simulated":
        sim = settings.simulation
        return {
            name: SimulatedService(name, sim.run_seconds, sim.rows, sim.failure_rate)
            for name in STAGGER_ORDER
        }
    source = source_factory(settings)
    engine = EngineSettings(
        batch_size=settings.sync.batch_size,
        full_threshold=settings.sync.full_threshold,
        full_every_s=settings.sync.full_every_h * 3600,
    )
    db_path = settings.data_dir / DB_FILENAME
    return {
        name: EntitySyncService(ENTITIES[name], source, db_path, engine) for name in STAGGER_ORDER
    }


def load_services(settings: Settings) -> dict[str, SyncService]:
    services = builtin_services(settings)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        service = entry.load()(settings)
        services[service.name] = service
    return services
