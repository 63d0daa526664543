"""The replica on SQLite: the tables (`replica`) and one entity's target (`target`)."""

from core.replica.sqlite.replica import SQLiteReplica

__all__ = ["SQLiteReplica"]
