"""Freezing a process at a chosen point: the hooks a frozen daemon installs.

A freeze test needs the process stopped at a chosen point *outside every write
transaction* of its store, or the frozen process holds SQLite's write lock and
nothing can take over from it (which is a limit of SQLite, not the fault under
test). So the store's connection tells a `Freezer` the lock that its calls hold
(`hold`, on open; `release`, on close), and `freeze()` takes every such lock
before it stops the process: no transaction is open while it is stopped. A
connection used only by the thread that calls `freeze()` (a run's replica
target) needs no lock: the call sits between that connection's transactions.

The stop is sent to the calling thread (`signal.raise_signal`, a tgkill to itself),
not to the process (`os.kill(getpid())`): a process-directed SIGSTOP is taken by
whichever thread the kernel picks, often the event loop's, and until that thread
has stopped the others the caller returns from `kill`, lets go of the locks and
goes on into its next write transaction. A signal to the calling thread is handled
before that thread leaves the system call, so it runs no further until SIGCONT.

Raises: nothing; a freeze returns once the process is continued (SIGCONT).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path


def stop_here() -> None:
    """SIGSTOP this process from the calling thread, wherever it is (see above for why
    the thread): a hook that means to freeze inside a transaction calls this directly."""
    signal.raise_signal(signal.SIGSTOP)


class Freezer:
    """The locks of one process's store connections, and the freezes that wait for them."""

    def __init__(self) -> None:
        self._locks: list[threading.Lock] = []
        self._registry = threading.Lock()

    def hold(self, lock: threading.Lock) -> None:
        """`lock` is held for the whole of each of a connection's transactions."""
        with self._registry:
            self._locks.append(lock)

    def release(self, lock: threading.Lock) -> None:
        with self._registry:
            if lock in self._locks:
                self._locks.remove(lock)

    def freeze(self) -> None:
        """SIGSTOP this process once no connection told here is inside a transaction."""
        with self._registry:
            held = list(self._locks)
        for lock in held:
            lock.acquire()
        try:
            stop_here()
        finally:
            for lock in reversed(held):
                lock.release()

    def before_batch(self, nth: int) -> Callable[[int], None]:
        """A `before_batch_commit` hook: freeze before the `nth` batch of each run."""

        def hook(batch: int) -> None:
            if batch == nth:
                self.freeze()

        return hook


def freeze_in_tx(marker: Path) -> Callable[[], None]:
    """An `after_write_begin` hook: when `marker` exists, remove it and SIGSTOP this process
    inside the write transaction it just began (a frozen client holding the lease row's
    lock, which the server's idle-in-transaction timeout must undo)."""

    def hook() -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(marker)
            stop_here()

    return hook
