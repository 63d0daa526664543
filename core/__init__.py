"""syncdeck's headless core: the orchestrator, its store, schedule and services.

Importing `core` never imports Textual or Rich: the console is one client of
this API among others (the CLI, the daemon, your own code). Docstrings that
cite "principle N" mean the numbered rules in `docs/design.md`.
"""

from core.config import ConfigError, Settings, load_settings
from core.errors import (
    InvalidTransition,
    NotFound,
    SchemaTooNew,
    StoreError,
    SyncCancelled,
    TransientError,
    UnknownService,
)
from core.models import (
    Event,
    EventKind,
    HealthState,
    RequestResult,
    RequestSource,
    RequestState,
    RunCounts,
    RunOutcome,
    RunRecord,
    Snapshot,
    SyncMode,
    SyncRequest,
)
from core.orchestrator import Orchestrator
from core.runtime import build_orchestrator, open_store
from core.store import SQLiteStore, Store
from core.sync.service import RunContext, SyncService

__all__ = [
    "ConfigError",
    "Event",
    "EventKind",
    "HealthState",
    "InvalidTransition",
    "NotFound",
    "Orchestrator",
    "RequestResult",
    "RequestSource",
    "RequestState",
    "RunContext",
    "RunCounts",
    "RunOutcome",
    "RunRecord",
    "SQLiteStore",
    "SchemaTooNew",
    "Settings",
    "Snapshot",
    "Store",
    "StoreError",
    "SyncCancelled",
    "SyncMode",
    "SyncRequest",
    "SyncService",
    "TransientError",
    "UnknownService",
    "build_orchestrator",
    "load_settings",
    "open_store",
]
