"""The configuration: settings (`settings`), the store and API sections (`stores`),
the problems an operator is shown (`problems`) and the bounds of every number (`limits`).

Import the settings from here; the other modules by their own names.
"""

from core.config.settings import (
    CircuitSettings,
    ConfigError,
    DemoFaults,
    DemoSettings,
    DemoSizes,
    OrchestratorSettings,
    RetrySettings,
    ScheduleSettings,
    ServiceSettings,
    Settings,
    SimulationSettings,
    SourceSettings,
    SyncSettings,
    load_settings,
    read_secret_file,
)

__all__ = [
    "CircuitSettings",
    "ConfigError",
    "DemoFaults",
    "DemoSettings",
    "DemoSizes",
    "OrchestratorSettings",
    "RetrySettings",
    "ScheduleSettings",
    "ServiceSettings",
    "Settings",
    "SimulationSettings",
    "SourceSettings",
    "SyncSettings",
    "load_settings",
    "read_secret_file",
]
