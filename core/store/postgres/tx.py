"""The PostgreSQL `Tx`: the shared `SqlTx` in PostgreSQL's dialect.

The transaction is READ COMMITTED and was opened by `begin_write`, which took
the schema's write lock (see `core.store.postgres.connection`), so each
statement sees every transaction committed before this one, and no other
write transaction runs until this one ends. That lock is what keeps the
lease row as `begin_write` read it, handed in rather than read again, and
it serializes the event log; `service()` also locks the row it reads (`FOR
UPDATE`, the dialect's row lock), as the `Tx` protocol asks of a row-locking
backend. The connection is in pipeline mode: writes whose result is not read
ride with the next statement that is (see `core.store.sql_tx`).

Raises: what `core.store.sql_tx` says; `psycopg.Error` for the rest, which the
connection maps to `StoreError`.
"""

from __future__ import annotations

from core.store.postgres.rows import POSTGRES
from core.store.sql_tx import SqlTx


class PostgresTx(SqlTx):
    """`core.store.tx.Tx` over a connection inside a write transaction."""

    dialect = POSTGRES
