"""Sync services: the protocol, and the services built in."""

from core.errors import SyncCancelled, SyncError, TransientError
from core.services.base import RunContext, SyncService

__all__ = ["RunContext", "SyncCancelled", "SyncError", "SyncService", "TransientError"]
