"""Who this process is to the runner lease, and whether another holder is still alive.

A lease names its holder by host, pid and a random suffix (a restarted process
with a recycled pid is someone else). On the same host, a holder whose process is
gone is known dead before its lease expires, so another process takes over at
once instead of waiting out the TTL. `os_user` names who a console or the CLI acts
for. Failures: none.
"""

from __future__ import annotations

import os
import socket

import msgspec


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def os_user() -> str | None:
    """The user this process runs as (who asked, when a console or the CLI changes
    something); None where the system cannot say."""
    import getpass  # only when someone asks: not on the way to a console's first frame

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


class Identity(msgspec.Struct):
    """Who this process is to the lease; given to an `Orchestrator`, a fixed one keeps a
    scene's pictures the same on every machine."""

    host: str = msgspec.field(default_factory=socket.gethostname)
    pid: int = msgspec.field(default_factory=os.getpid)
    holder_id: str = ""

    def __post_init__(self) -> None:
        if not self.holder_id:
            # what secrets.token_hex reads, without importing secrets (hmac, hashlib) on the
            # way to the console's first frame
            self.holder_id = f"{self.host}:{self.pid}:{os.urandom(3).hex()}"
