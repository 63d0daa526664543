"""Cancelling a running PostgreSQL statement when its read's `stop` is set, for the SQL
source's reader (`core.sources.sql.reader`).

One thread per `Canceller` (a reader's), started with the first read it watches and asleep
while it watches none; while reads are watched it looks at their `stop` events every
`poll_s` seconds and cancels the statement of each read whose event is set
(`cancel_safe()`, else `cancel()`, on the driver's connection), once. Ending a watch is a
lock, never a thread to start or join: a page of a large listing pays nothing for it. A
cancel happens under that lock, so once `end()` has returned, the connection (back in the
pool, perhaps serving another read) is never cancelled on that read's behalf. Nothing here
raises: a cancel that fails is the database's to report on the statement.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable
from typing import Any


class Canceller:
    def __init__(self, poll_s: float, name: str = "sql-source-cancel") -> None:
        self._poll_s = poll_s
        self._name = name
        self._lock = threading.Lock()
        self._reads: dict[int, tuple[threading.Event, Any]] = {}
        self._keys = itertools.count()
        self._busy = threading.Event()
        """Set while a read is watched (or to wake the thread when closing)."""
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, stop: threading.Event, connection: Any) -> Callable[[], None]:
        """Cancel `connection`'s running statement once `stop` is set, until the returned
        call ends the watch."""
        with self._lock:
            key = next(self._keys)
            self._reads[key] = (stop, connection)
            self._busy.set()
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

        def end() -> None:
            with self._lock:
                self._reads.pop(key, None)
                if not self._reads and not self._closed.is_set():
                    self._busy.clear()

        return end

    def close(self) -> None:
        """Stop the thread (it ends at its next look; a watched read is no longer cancelled)."""
        with self._lock:
            self._closed.set()
            self._reads.clear()
            self._busy.set()

    def _run(self) -> None:
        while self._busy.wait() and not self._closed.wait(self._poll_s):
            with self._lock:
                for key, (stop, connection) in list(self._reads.items()):
                    if stop.is_set():
                        del self._reads[key]
                        cancel = getattr(connection, "cancel_safe", None) or getattr(
                            connection, "cancel", None
                        )
                        if cancel is not None:
                            with contextlib.suppress(Exception):
                                cancel()
                if not self._reads and not self._closed.is_set():
                    self._busy.clear()
