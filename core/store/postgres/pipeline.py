"""A write transaction's connection in pipeline mode, whose every wait ends with a Sync.

psycopg's pipeline mode sends statements without waiting, and a fetch asks the server
only to flush what it has (a Flush message). That would cost the store its defence
against a frozen client. The server arms `idle_in_transaction_session_timeout` only
when it waits for the client after a Sync. A session stopped between a flush and the
next statement stays "active" with its locks (the schema's write lock among them) for
ever, and no other process can take the lease over. `PipelineConn` reads a result by
syncing the pipeline instead (one round trip, as a flush is). Inside the transaction's
explicit BEGIN a Sync commits nothing, it only reports the server ready, so the server
times out a client that froze at any point of the transaction.

Outside pipeline mode (`pipeline` None) it is the plain connection.

Raises: the driver's errors, at the read that syncs the statement that failed, or a
later one (`core.store.sql.tx` says which refusal is read at once).
"""

from __future__ import annotations

from typing import Any

import psycopg

from core.store.postgres.rows import Conn


class SyncedCursor:
    """A cursor whose first fetch syncs the pipeline when its result is not in yet."""

    def __init__(self, cursor: psycopg.Cursor[Any], pipeline: psycopg.Pipeline | None) -> None:
        self._cursor = cursor
        self._pipeline = pipeline

    def _result(self) -> psycopg.Cursor[Any]:
        if self._pipeline is not None and self._cursor.pgresult is None:
            self._pipeline.sync()
        return self._cursor

    def fetchone(self) -> Any:
        return self._result().fetchone()

    def fetchall(self) -> list[Any]:
        return self._result().fetchall()


class PipelineConn:
    """`execute` as `core.store.sql.tx` uses it, on a connection in `pipeline`."""

    def __init__(self, conn: Conn, pipeline: psycopg.Pipeline | None) -> None:
        self.conn = conn
        self._pipeline = pipeline

    def execute(self, query: Any, params: Any = None, /) -> SyncedCursor:
        return SyncedCursor(self.conn.execute(query, params), self._pipeline)
