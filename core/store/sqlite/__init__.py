"""The SQLite backend: the embedded default store, one file in the data directory.

`store` is the `Store` itself; `connection` decides who uses the one connection
when; `tx` is the rules' primitives as SQL; `reads` the view, history and event
log; `rows` the mapping between rows and models; `schema` the migrations.
"""

from core.store.sqlite.schema import DB_FILENAME
from core.store.sqlite.store import SQLiteStore

__all__ = ["DB_FILENAME", "SQLiteStore"]
