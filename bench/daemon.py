"""A real `syncdeck daemon` subprocess for the cross-process benches (bench/orchestrator.py
and bench/postgres.py), always stopped: SIGTERM then SIGKILL, and SIGTERM from the kernel if
the benchmark itself dies; and the request -> run start latency as the store recorded it."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import cpu_ticks

from core.orchestrator import Orchestrator
from core.store import Store

REPO = Path(__file__).resolve().parent.parent
SYNCDECK = [sys.executable, "-m", "console"]
DAEMON_SERVICES = ["orders", "customers", "products", "prices"]


class Daemon:
    """A real `syncdeck daemon` subprocess; always stopped by `close()`."""

    def __init__(
        self, data_dir: Path, log_path: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCDECK_")}
        self.env.update(
            SYNCDECK_DATA_DIR=str(data_dir),
            SYNCDECK_SCHEDULE__ENABLED="false",
            SYNCDECK_SIMULATION__RUN_SECONDS="0",
            **(extra_env or {}),
        )
        # the simulated stand-ins: nothing but the orchestrator is measured
        self.env["SYNCDECK_SOURCE__KIND"] = "simulated"
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [*SYNCDECK, "daemon"],
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # it prints every event; nobody reads them here
            stderr=self._log,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        CHILDREN.append(self.proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_ticks(self) -> int:
        """utime + stime of the whole daemon so far, in clock ticks."""
        return cpu_ticks(f"/proc/{self.pid}/stat")

    def close(self) -> None:
        stop_process(self.proc)
        self._log.close()


CHILDREN: list[subprocess.Popen[Any]] = []


try:
    _PRCTL: Any = ctypes.CDLL(None).prctl  # looked up here: the child only calls it
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM it if this benchmark dies, even by SIGKILL."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop_process(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=10)


async def request_ended(orch: Orchestrator, request_id: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not (await orch.get_request(request_id)).state.ended:
        if time.monotonic() > deadline:
            raise RuntimeError(f"request #{request_id} did not end within {timeout}s")
        await asyncio.sleep(0.01)


async def store_latency_ms(store: Store, request_id: int) -> float:
    request = await store.get_request(request_id)
    runs = await store.runs(request_id=request_id, limit=10)
    if not runs:
        raise RuntimeError(f"request #{request_id} ended without a run")
    first = min(runs, key=lambda r: r.id)
    return (first.started_at - request.requested_at).total_seconds() * 1000


async def wait_for_lease(client: Orchestrator, daemon: Daemon) -> None:
    deadline = time.monotonic() + 30
    while True:
        if daemon.proc.poll() is not None:
            raise RuntimeError(f"the daemon exited ({daemon.proc.returncode}); see its log")
        lease = (await client.snapshot()).runner  # None unless alive
        if lease is not None and lease.pid == daemon.pid:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the daemon never took the runner lease")
        await asyncio.sleep(0.05)
