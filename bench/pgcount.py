"""Counting what a process says to PostgreSQL: statements, and the round trips they cost.

`bench/postgres.py` part 3 uses it to say where a durable run's time goes. It patches
psycopg's classes while it is open (the process's every connection, the store's threads
included), so it slows what it counts: a figure taken inside it is not a speed.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any

import psycopg


class StatementCounter:
    """Counts, while it is open, the statements every psycopg connection of this process
    sends (a connection's `execute` goes through a cursor's; COPY aside) and the round
    trips: the times a client waits for the server. Outside pipeline mode every statement,
    and every BEGIN or COMMIT psycopg sends itself, is one; in a pipeline, statements are
    only queued, and a fetch of a result not yet received, or a sync, is one."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.round_trips = 0
        self._lock = threading.Lock()
        self._saved: list[tuple[type, str, Any]] = []

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def top(self, n: int) -> list[tuple[str, int]]:
        return self.counts.most_common(n)

    def _patch(self, cls: type, name: str, make: Callable[[Any], Any]) -> None:
        original = cls.__dict__[name]
        self._saved.append((cls, name, original))
        setattr(cls, name, make(original))

    def __enter__(self) -> StatementCounter:
        from psycopg._connection_base import BaseConnection

        for cls in (psycopg.Cursor, psycopg.AsyncCursor):
            self._patch(cls, "execute", self._counting)
        self._patch(psycopg.Cursor, "_fetch_pipeline", self._fetching)
        self._patch(psycopg.Pipeline, "sync", self._syncing)
        self._patch(psycopg.Pipeline, "__exit__", self._exiting)
        self._patch(BaseConnection, "_exec_command", self._commanding)
        return self

    def _trip(self) -> None:
        with self._lock:
            self.round_trips += 1

    def _counting(self, original: Any) -> Any:
        def execute(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            text = query if isinstance(query, str) else query.as_string(None)
            with self._lock:
                self.counts[" ".join(text.split()[:3])] += 1
            if cursor.connection._pipeline is None:
                self._trip()
            return original(cursor, query, *args, **kwargs)

        return execute

    def _fetching(self, original: Any) -> Any:
        def fetch(cursor: Any) -> Any:
            if (
                cursor._execmany_returning is not False
                and not cursor.pgresult
                and cursor.connection._pipeline
            ):
                self._trip()
            return original(cursor)

        return fetch

    def _syncing(self, original: Any) -> Any:
        def sync(pipeline: Any) -> Any:
            self._trip()
            return original(pipeline)

        return sync

    def _exiting(self, original: Any) -> Any:
        def exit_(pipeline: Any, *exc: Any) -> Any:
            if pipeline.level == 1:
                self._trip()
            return original(pipeline, *exc)

        return exit_

    def _commanding(self, original: Any) -> Any:
        def command(conn: Any, *args: Any, **kwargs: Any) -> Any:
            if conn._pipeline is None:
                self._trip()
            return original(conn, *args, **kwargs)

        return command

    def __exit__(self, *exc: object) -> None:
        for cls, name, original in reversed(self._saved):
            setattr(cls, name, original)
