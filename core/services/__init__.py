"""Sync services: the protocol, and the services built in."""

from core.services.base import (
    RunContext,
    SyncCancelled,
    SyncError,
    SyncService,
    TransientError,
)

__all__ = ["RunContext", "SyncCancelled", "SyncError", "SyncService", "TransientError"]
