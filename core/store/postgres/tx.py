"""The PostgreSQL `Tx`: the shared `SqlTx` in PostgreSQL's dialect.

The transaction is READ COMMITTED and was opened by `begin_write`, which took
the schema's write lock (see `core.store.postgres.connection`), so each
statement sees every transaction committed before this one, and no other
write transaction runs until this one ends. That lock keeps the lease row as
`begin_write` read it (handed in rather than read again), and it serializes
the event log. `service()` also locks the row it reads (`FOR
UPDATE`, the dialect's row lock), as the `Tx` protocol asks of a row-locking
backend. The connection is in pipeline mode: writes whose result is not read
ride with the next statement that is (see `core.store.sql.tx`).

Event and run ids cost no round trip either. `begin_write` also read the last
id of the events' and the runs' identity sequences, and no other transaction
inserts until this one ends, so the next ids are known. The rows are inserted
with them, and each sequence is moved past them just before the commit. (A
transaction that rolls back after that leaves a gap in the ids, which readers
allow.)

Raises: what `core.store.sql.tx` says; `psycopg.Error` for the rest, which the
connection maps to `StoreError`.
"""

from __future__ import annotations

from typing import Any

from core.models import RunRecord
from core.store.postgres.connection import Begun
from core.store.postgres.pipeline import PipelineConn
from core.store.postgres.rows import POSTGRES
from core.store.sql.tx import RUN_COLUMNS, Connection, SqlTx

_INSERT_EVENT = (
    "INSERT INTO events (id, at, kind, service, request_id, run_id, data) "
    "OVERRIDING SYSTEM VALUE VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_INSERT_RUN = (
    f"INSERT INTO runs (id, {RUN_COLUMNS}) "
    "OVERRIDING SYSTEM VALUE VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


class _IdsAhead:
    """The ids of one identity sequence taken in this transaction without asking the server
    (no other transaction inserts until this one ends)."""

    def __init__(self, sequence: str, last: int) -> None:
        self.sequence = sequence
        self._first = self.last = last

    def take(self) -> int:
        self.last += 1
        return self.last

    def settle(self, conn: Connection) -> None:
        """Move the sequence past the ids taken, if any."""
        if self.last != self._first:
            conn.execute(f"SELECT setval('{self.sequence}', %s)", (self.last,))


class PostgresTx(SqlTx):
    """`core.store.tx.Tx` over a connection inside a write transaction."""

    dialect = POSTGRES

    def __init__(self, conn: PipelineConn, begun: Begun) -> None:
        super().__init__(conn, begun.lease_row)
        self._event_ids = _IdsAhead("events_id_seq", begun.last_event_id)
        self._run_ids = _IdsAhead("runs_id_seq", begun.last_run_id)

    def _insert_event(self, values: tuple[Any, ...]) -> int:
        event_id = self._event_ids.take()
        self.conn.execute(_INSERT_EVENT, (event_id, *values))
        return event_id

    def insert_run(self, run: RunRecord) -> int:
        run_id = self._run_ids.take()
        self.conn.execute(_INSERT_RUN, (run_id, *self.run_values(run)))
        return run_id

    def end(self) -> None:
        """Before the commit: move the id sequences past the ids taken here."""
        self._event_ids.settle(self.conn)
        self._run_ids.settle(self.conn)
