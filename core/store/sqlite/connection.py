"""The SQLite store's connection: who may use it when, so the event loop never waits.

One connection, guarded by a lock. A call runs inline on the event loop when
the lock is free, with a zero busy timeout. If another process holds the file's
write lock, the call fails at once (rolled back, nothing done) and goes to the
store's one worker thread. That thread waits for the lock by polling it every
millisecond: SQLite's own busy handler backs off to long sleeps, which an
operator would feel while a sync holds the lock batch after batch. Running
inline is what makes a store call cheap, and the orchestrator's throughput is
made of store calls. Checkpoints, which write and sync the database file, run on a
second connection on the worker thread, never inline. A test may ask to be told
the lock when the connection opens and closes (`on_open`, `on_close`): holding
it, the test knows that no transaction of this connection is under way.

Raises: `StoreError` when used before `open()` or after `close()`; the
`sqlite3.Error` of a failed statement (after the busy wait runs out, for a
held lock).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from core.errors import StoreError
from core.models import to_datetime
from core.store.sqlite.faults import FileIdentity, classify
from core.store.sqlite.schema import migrate, refuse_newer_schema

T = TypeVar("T")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "locked" in message or "busy" in message


class SQLiteConnection:
    """The store's connection to one database file, and the thread that may wait for it."""

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float],
        busy_timeout_ms: int,
        *,
        on_open: Callable[[threading.Lock], None] | None = None,
        on_close: Callable[[threading.Lock], None] | None = None,
    ) -> None:
        self.path = path
        self._on_open, self._on_close = on_open, on_close
        self._clock = clock
        self._busy_timeout_ms = busy_timeout_ms
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        """Whoever holds it owns the connection: the loop (inline) or the store thread."""
        self._busy_now = -1
        self._data_version = 0
        self._checkpointer: sqlite3.Connection | None = None
        self._identity: FileIdentity | None = None

    @property
    def is_open(self) -> bool:
        return self._executor is not None

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="syncdeck-store")
        try:
            await self._on_thread(self._locked, self._open_sync, ())
            if self._on_open is not None:
                self._on_open(self._lock)
        except sqlite3.Error as exc:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise classify(exc, self.path) from exc
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    def _open_sync(self) -> None:
        if self.path.exists():  # before anything writes to the file (journal_mode does)
            refuse_newer_schema(self.path)
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            timeout=self._busy_timeout_ms / 1000,
            check_same_thread=False,
        )
        self._conn = conn
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            self._busy_now = self._busy_timeout_ms
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a process crash loses no committed transaction.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            # Checkpoints are `checkpoint()`'s job, on the store thread.
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            self._identity = FileIdentity(self.path)
            migrate(conn, self.path)
            self._data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        except BaseException:
            conn.close()
            self._conn = None
            raise

    async def close(self) -> None:
        if self._executor is None:
            return
        if self._on_close is not None:
            self._on_close(self._lock)
        await self._on_thread(self._close_checkpointer)
        await self._call(self._close_sync, ())  # no identity check: closing is always allowed
        self._executor.shutdown(wait=True)
        self._executor = None

    def _close_checkpointer(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- calls ------------------------------------------------------------------

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` with the connection: inline when that cannot wait, else on the
        store thread. SQLite's own errors come out as `core.errors` classes (`faults`), and
        a file replaced under us fails every call, before it can touch the new file."""
        if self._identity is not None:
            self._identity.check()
        try:
            return await self._call(fn, args)
        except sqlite3.Error as exc:
            raise classify(exc, self.path) from exc

    async def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._executor is None:
            raise StoreError("store is not open")
        if self._lock.acquire(blocking=False):
            try:
                self._set_busy_timeout(0)
                return fn(*args)
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise
            finally:
                self._lock.release()
        return await self._on_thread(self._locked, fn, args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(db, now, *args)` in one `BEGIN IMMEDIATE` transaction, now from the clock."""
        return await self.call(self._tx, fn, args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(db, *args)` (reads; several statements see one state only inside BEGIN)."""
        return await self.call(self._with_db, fn, args)

    def _with_db(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        return fn(self.db, *args)

    def _tx(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self.db
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn, self.now(), *args)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def now(self) -> datetime:
        return to_datetime(self._clock())

    async def _on_thread(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StoreError("store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _locked(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """On the store thread: wait for the write lock by polling it every millisecond."""
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        while True:
            with self._lock:
                self._set_busy_timeout(0)
                try:
                    return fn(*args)
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc) or time.monotonic() > deadline:
                        raise
            time.sleep(0.001)

    def _set_busy_timeout(self, ms: int) -> None:
        if self._busy_now != ms and self._conn is not None:
            self._conn.execute(f"PRAGMA busy_timeout = {ms}")
            self._busy_now = ms

    @property
    def db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("store is not open")
        return self._conn

    # -- maintenance and change detection ----------------------------------------

    async def checkpoint(self) -> None:
        """Copy the write-ahead log into the database (passive: never waits for readers).

        On a connection of its own: a checkpoint writes and syncs the database file,
        which can take tens of milliseconds, and the main connection stays free for
        the calls the loop makes meanwhile (a console's redraw, an operator's key)."""
        if self._executor is None:
            return
        await self._on_thread(self._checkpoint_sync)

    def _checkpoint_sync(self) -> None:
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(
                self.path, isolation_level=None, timeout=0, check_same_thread=False
            )
        try:
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):  # busy: another process is checkpointing; next time
                raise

    def data_changed(self) -> bool:
        """Whether another connection committed since the last look (SQLite's data_version)."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        changed: bool = version != self._data_version
        self._data_version = version
        return changed
