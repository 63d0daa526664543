"""Real `syncdeck` subprocesses on one data directory, and polling on their store.

Shared by the multiprocess, fault and crash tests: daemons are started with their
output in a log file per process and killed and reaped at teardown; the store is
read through a read-only SQLite connection so that a test never writes to it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from conftest import REPO, SYNCDECK

from support import frozen_daemon

T = TypeVar("T")


class Daemons:
    """`syncdeck daemon` processes started by one test; all killed and reaped at the end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []
        self._files: list[IO[bytes]] = []

    def start(self, *freeze: str) -> subprocess.Popen[bytes]:
        """`syncdeck daemon`; with `freeze` flags, `support.frozen_daemon` with those flags."""
        log = open(self.logs / f"daemon-{len(self.procs)}.log", "wb")  # noqa: SIM115
        self._files.append(log)
        argv, env = [*SYNCDECK, "daemon"], self.env
        if freeze:
            argv, env = frozen_daemon.command(*freeze), frozen_daemon.environ(env)
        proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def alive(self) -> dict[int, subprocess.Popen[bytes]]:
        return {p.pid: p for p in self.procs if p.poll() is None}

    def sigkill(self, proc: subprocess.Popen[bytes]) -> float:
        """SIGKILL `proc` and reap it at once (an unreaped zombie still looks alive to
        `kill(pid, 0)`). Returns the wall-clock time of the kill."""
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        return killed_at

    def tails(self) -> str:
        out = []
        for i, proc in enumerate(self.procs):
            text = (self.logs / f"daemon-{i}.log").read_text(errors="replace")
            out.append(f"--- daemon {i} pid {proc.pid} rc {proc.poll()}\n{text[-1500:]}")
        return "\n".join(out)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        for log in self._files:
            log.close()


def stop(proc: subprocess.Popen[Any], timeout: float = 20) -> int:
    """SIGTERM `proc` as an operator's stop would, SIGKILL it if it has not ended within
    `timeout`, and reap it: its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SYNCDECK, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def cli_json(env: dict[str, str], *args: str) -> Any:
    result = cli(env, *args, "--json")
    assert result.returncode == 0, f"syncdeck {' '.join(args)}: {result.stderr}"
    return json.loads(result.stdout)


def read_store(data_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """One consistent read-only snapshot of the tables the tests look at."""
    conn = sqlite3.connect(f"file:{data_dir / 'syncdeck.db'}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("BEGIN")
        tables = {
            "requests": conn.execute("SELECT * FROM requests ORDER BY id").fetchall(),
            "runs": conn.execute("SELECT * FROM runs ORDER BY id").fetchall(),
            "lease": conn.execute("SELECT * FROM lease").fetchall(),
            "taken": conn.execute(
                "SELECT * FROM events WHERE kind = 'lease.taken' ORDER BY id"
            ).fetchall(),
            "lost": conn.execute(
                "SELECT * FROM events WHERE kind = 'lease.lost' ORDER BY id"
            ).fetchall(),
        }
        conn.execute("COMMIT")
    finally:
        conn.close()
    out = {name: [dict(row) for row in rows] for name, rows in tables.items()}
    for event in out["taken"] + out["lost"]:
        event["data"] = json.loads(event["data"])
    return out


def runner_pid(data_dir: Path) -> int | None:
    """The pid in an unexpired lease, or None (also while the store is still being created)."""
    try:
        lease = read_store(data_dir)["lease"]
    except sqlite3.OperationalError:  # no file or no schema yet
        return None
    return lease[0]["pid"] if lease and lease[0]["expires_at"] > time.time() else None


def wait_until(
    check: Callable[[], T | None],
    timeout: float,
    what: str,
    more: Callable[[], str] = lambda: "",
) -> T:
    """Poll `check` until it returns something other than None/False, or fail after `timeout`
    with `what` and whatever `more()` then says (the daemons' logs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n{more()}")
        time.sleep(0.05)
