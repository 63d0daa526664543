"""The SQLite `Tx`: the shared `SqlTx` in SQLite's dialect.

Locking needs nothing more: the store opens each write transaction with
`BEGIN IMMEDIATE`, which takes SQLite's one write lock for the whole
transaction, so every transition is serialized with every other.

Raises: what `core.store.sql.tx` says; `sqlite3.Error` for the rest, which the
store maps to `StoreError`.
"""

from __future__ import annotations

from core.store.sql.tx import SqlTx
from core.store.sqlite.rows import SQLITE


class SQLiteTx(SqlTx):
    """`core.store.tx.Tx` over a connection inside a `BEGIN IMMEDIATE` transaction."""

    dialect = SQLITE
