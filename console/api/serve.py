"""`syncdeck serve`: an orchestrator (a runner, like `daemon`, unless `runner=False`) and
the HTTP API on uvicorn, in one process, until SIGINT or SIGTERM.

It refuses a non-loopback address when no key is configured (on loopback, with
no key, every caller has every role, and the start-up line says so). On a signal
the event streams end first, then uvicorn drains its connections, then the
orchestrator stops (releasing the lease). Failures: `ConfigError` for bad keys,
`OSError` when the address cannot be bound (both exit 2 in the CLI).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import sys
from collections.abc import Iterator

import uvicorn

from console.api.app import create_app
from console.api.http11 import JsonH11Protocol
from console.api.limits import MAX_HEADER_BYTES
from core.config import ConfigError, Settings
from core.runtime import build_orchestrator

log = logging.getLogger(__name__)

GRACEFUL_S = 5


class _Server(uvicorn.Server):
    """uvicorn, but the signals are ours: its own handler re-raises them after shutting
    down, which would end the process before the orchestrator has stopped."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free one). Raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when it sees it
    # (without, a keep-alive client waits out a delayed ACK on every answer).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def serve(settings: Settings, host: str, port: int, *, runner: bool) -> None:
    auth_on = any(
        key is not None
        for key in (
            settings.api.jwt_secret,
            settings.api.jwt_secret_file,
            settings.api.jwt_public_key_file,
        )
    )
    if not auth_on and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve on {host}: no authentication is configured; set [api] "
            "jwt_secret, jwt_secret_file or jwt_public_key_file (or SYNCDECK_API__JWT_SECRET), "
            "or serve on 127.0.0.1"
        )
    sock = bind(host, port)
    orch = build_orchestrator(settings, runner=runner)
    stopping = asyncio.Event()
    try:
        app = create_app(orch, settings, stopping=stopping)  # loads the keys: ConfigError
        await orch.start()
    except BaseException:
        sock.close()
        raise
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_S,
        timeout_keep_alive=30,
        http=JsonH11Protocol,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
    server = _Server(config)

    def stop() -> None:
        stopping.set()
        server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            bound_host, bound_port = sock.getsockname()[:2]
            auth = "JWT required" if auth_on else "no authentication (loopback only)"
            role = "runner" if runner else "no runner"
            print(
                f"syncdeck serve on http://{bound_host}:{bound_port} ({role}; {auth}; "
                f"data {settings.data_dir})",
                file=sys.stderr,
                flush=True,
            )
        await task
    finally:
        stopping.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await orch.stop()
        sock.close()
