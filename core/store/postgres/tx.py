"""The PostgreSQL `Tx`: the shared `SqlTx` in PostgreSQL's dialect.

The transaction is READ COMMITTED and was opened by `begin_write`, which took
the schema's write lock (see `core.store.postgres.connection`), so each
statement sees every transaction committed before this one. `service()` and
`lease()` also lock the rows they read (`FOR UPDATE`, the dialect's row lock),
as the `Tx` protocol asks of a row-locking backend: the write lock is what
serializes the event log, and the row locks keep "one transition per service,
one on the lease" true on their own.

Raises: what `core.store.sql_tx` says; `psycopg.Error` for the rest, which the
connection maps to `StoreError`.
"""

from __future__ import annotations

from core.store.postgres.rows import POSTGRES
from core.store.sql_tx import SqlTx


class PostgresTx(SqlTx):
    """`core.store.tx.Tx` over a connection inside a write transaction."""

    dialect = POSTGRES
