"""Stores: where every process finds the same queue, history, state and lease."""

from core.errors import InvalidTransition, LeaseLost, NotFound, SchemaTooNew, StoreError
from core.store.base import EnqueueResult, LeaseResult, RunFinish, RunStart, Store, StoreView
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
