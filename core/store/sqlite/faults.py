"""What a failing SQLite call means for syncdeck, in the words an operator acts on.

`classify` turns an `sqlite3.Error` into the `core.errors` class that says what
to do:
- `StoreUnwritable` for a full disk, an I/O error or a read-only file (it may
  pass: keep trying, start nothing). It uses the filesystem's words when it has
  them (`write_problem`: "no space left on the filesystem holding DIR" says more
  than SQLite's "database or disk is full").
- `StoreCorrupt` for a damaged file or one that is not a database (stop; the
  file is left as it is).
- `StoreUnwritable` "the store is locked by pid N" when another process held the
  write lock past the busy wait. N is the runner lease's holder, the likeliest
  one; "another process" when that is unknown or is this process.
- `StoreError` for anything else.

`FileIdentity` notices that the file at the store's path is no longer the one this
process opened (deleted, or replaced by a copy or a restore). A process that carried on
against the old inode while another opened the new file would make two runners, so this
is `StoreReplaced`. `write_problem` tells an observer, without writing, why the store
would refuse a write now (a full filesystem, a read-only file or directory); it never
raises.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from core.errors import StoreCorrupt, StoreError, StoreReplaced, StoreUnwritable

_UNWRITABLE = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY}
_CORRUPT = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
MIN_FREE_BYTES = 256 * 1024
"""Below this, a write that grows the journal or the file is about to fail: the
WAL and a batch's pages need room before the commit that would report SQLITE_FULL."""


def write_problem(path: Path) -> str | None:
    """Why a write to the store at `path` would fail now, as seen from outside SQLite.

    Reads only the filesystem (free space, permissions), so any process, even one
    that never writes, can say "store unwritable" while the runner is stuck on it."""
    directory = path.parent
    try:
        fs = os.statvfs(directory)
    except OSError:
        return None
    if fs.f_flag & os.ST_RDONLY:
        return f"store unwritable: the filesystem holding {directory} is read-only"
    free = fs.f_bavail * fs.f_frsize
    if free < MIN_FREE_BYTES:
        return f"store unwritable: no space left on the filesystem holding {directory}"
    if os.geteuid() != 0:
        if path.exists() and not os.access(path, os.W_OK):
            return f"store unwritable: {path} is read-only"
        if not os.access(directory, os.W_OK | os.X_OK):
            return f"store unwritable: {directory} is read-only"
    return None


def lock_holder(path: Path) -> str:
    """Who likely holds the write lock: the lease holder's pid, read without waiting
    (WAL readers never wait for a writer); never raises."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0)
        try:
            row = conn.execute("SELECT pid FROM lease").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return "another process"
    if row is None or row[0] == os.getpid():
        return "another process"
    return f"pid {row[0]}"


def _primary(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_corrupt(exc: sqlite3.Error) -> bool:
    """The file is damaged or not a database (the replica, in the same file by default,
    asks too, so that both say `StoreCorrupt`)."""
    return _primary(exc) in _CORRUPT


def classify(exc: sqlite3.Error, path: Path) -> StoreError:
    primary = _primary(exc)
    if primary in _CORRUPT:
        return StoreCorrupt.of(path, exc)
    if primary in _BUSY:
        return StoreUnwritable(f"the store is locked by {lock_holder(path)} ({path})")
    # The filesystem's reason, where it has one, says more than SQLite's words.
    cannot_open = primary == sqlite3.SQLITE_CANTOPEN
    problem = write_problem(path) if primary in _UNWRITABLE or cannot_open else None
    if primary in _UNWRITABLE:
        return StoreUnwritable(
            f"{problem} ({exc})" if problem else f"store unwritable: {exc} ({path})"
        )
    if problem is not None:  # a WAL database's -shm cannot be made in a read-only place
        return StoreUnwritable(f"{problem}: cannot open {path} ({exc})")
    return StoreError(f"{path}: {exc}")


class FileIdentity:
    """The device and inode of the file a connection opened, to compare with the path's."""

    def __init__(self, path: Path) -> None:
        self.path = path
        stat = os.stat(path)
        self._identity = (stat.st_dev, stat.st_ino)

    def check(self) -> None:
        """Raises StoreReplaced when the path no longer leads to the file opened."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise StoreReplaced(
                f"{self.path} was deleted while syncdeck had it open; this process stopped "
                "using it so that no second runner can start on a new file"
            ) from None
        if (stat.st_dev, stat.st_ino) != self._identity:
            raise StoreReplaced(
                f"{self.path} was replaced by another file while syncdeck had it open; this "
                "process stopped using it so that no second runner can start on the new one"
            )
