"""Test seams: points where a test makes this process freeze, off unless asked for.

A freeze test needs the process stopped at a chosen point *outside every write
transaction*, or the frozen process holds SQLite's write lock and nothing can
take over from it (which is a limit of SQLite, not the fault under test). So a
connection that runs write transactions registers the lock that its
transactions hold (`hold_while_frozen`), and `freeze()` takes every such lock
before it stops the process: no transaction is open while it is stopped. A
connection used only by the thread that calls `freeze()` (a run's replica
target) needs no lock: the call sits between that connection's transactions.

The stop is sent to the calling thread (`signal.raise_signal`, a tgkill to itself),
not to the process (`os.kill(getpid())`): a process-directed SIGSTOP is taken by
whichever thread the kernel picks, often the event loop's, and until that thread
has stopped the others the caller returns from `kill`, lets go of the locks and
goes on into its next write transaction (seen: 3 freezes in 10 stopped inside the
replica batch the seam was placed before, holding SQLite's write lock). A signal
to the calling thread is handled before that thread leaves the system call, so
it runs no further until SIGCONT.

Raises: nothing; `freeze()` returns once the process is continued (SIGCONT).
"""

from __future__ import annotations

import signal
import threading

_locks: list[threading.Lock] = []
_registry = threading.Lock()


def hold_while_frozen(lock: threading.Lock) -> None:
    """`lock` is held for the whole of each of a connection's write transactions."""
    with _registry:
        _locks.append(lock)


def release_on_close(lock: threading.Lock) -> None:
    with _registry:
        if lock in _locks:
            _locks.remove(lock)


def stop_here() -> None:
    """SIGSTOP this process from the calling thread, wherever it is (see above for why the
    thread): a hook that means to freeze inside a transaction calls this directly."""
    signal.raise_signal(signal.SIGSTOP)


def freeze() -> None:
    """SIGSTOP this process once no registered connection is inside a transaction."""
    with _registry:
        held = list(_locks)
    for lock in held:
        lock.acquire()
    try:
        stop_here()
    finally:
        for lock in reversed(held):
            lock.release()
