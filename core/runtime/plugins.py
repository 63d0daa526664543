"""Services that installed packages add, through entry points (`core.config.plugins`).

A plugin that fails to load raises its own error to the caller (a broken plugin is a
configuration error, not something to skip); one whose service is not named as its
entry point is a ConfigError, since `[services.NAME]` was checked against those names.
"""

from __future__ import annotations

from core.config import ConfigError, Settings
from core.config.plugins import ENTRY_POINT_GROUP, may_declare_entry_points
from core.sync.service import SyncService


def plugin_services(settings: Settings) -> dict[str, SyncService]:
    """The services every installed plugin declares, by name."""
    services: dict[str, SyncService] = {}
    if may_declare_entry_points(ENTRY_POINT_GROUP):
        from importlib.metadata import entry_points

        for entry in entry_points(group=ENTRY_POINT_GROUP):
            service = entry.load()(settings)
            if service.name != entry.name:
                raise ConfigError(
                    f"plugin entry point {entry.name!r} ({entry.value}) makes a service "
                    f"named {service.name!r}: the two names must be the same"
                )
            services[service.name] = service
    return services
