"""Which services exist: the built-in four, plus any a package registers.

A third-party package adds a service by declaring an entry point in the
`syncdeck.services` group whose object is a callable taking the `Settings` and
returning a `SyncService`.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from core.config import STAGGER_ORDER, Settings
from core.services.base import SyncService
from core.services.simulated import SimulatedService

ENTRY_POINT_GROUP = "syncdeck.services"


def builtin_services(settings: Settings) -> dict[str, SyncService]:
    """The four entity services. Until the ERP-backed services land they are simulated."""
    sim = settings.simulation
    return {
        name: SimulatedService(name, sim.run_seconds, sim.rows, sim.failure_rate)
        for name in STAGGER_ORDER
    }


def load_services(settings: Settings) -> dict[str, SyncService]:
    services = builtin_services(settings)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        service = entry.load()(settings)
        services[service.name] = service
    return services
