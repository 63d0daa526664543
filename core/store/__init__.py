"""Stores: where every process finds the same queue, history, state and lease."""

from core.store.base import (
    EnqueueResult,
    InvalidTransition,
    LeaseLost,
    LeaseResult,
    NotFound,
    RunFinish,
    RunStart,
    SchemaTooNew,
    Store,
    StoreError,
    StoreView,
)
from core.store.sqlite import DB_FILENAME, SQLiteStore

__all__ = [
    "DB_FILENAME",
    "EnqueueResult",
    "InvalidTransition",
    "LeaseLost",
    "LeaseResult",
    "NotFound",
    "RunFinish",
    "RunStart",
    "SQLiteStore",
    "SchemaTooNew",
    "Store",
    "StoreError",
    "StoreView",
]
