"""The PostgreSQL server restarted under a running daemon, mid-run.

The test makes its own cluster (`tests/support/pgcluster.py`), runs a real `syncdeck daemon`
against it, stops the server (`pg_ctl stop -m fast`: every session is cut) while a run is
going, and starts it again. Meanwhile the daemon says "store unreachable" in one log line
(no traceback), and so do another process's `syncdeck status` and `status --json`, in one
line each; the daemon's pool reconnects with backoff; nothing committed is lost, and the
run ends (succeeded, or interrupted and requeued, then succeeded): never stuck in `running`.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import REPO, SYNCDECK
from support.pgcluster import PgCluster, rows, running_cluster
from support.procs import cli

SCHEMA = "syncdeck"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    with running_cluster(free_port()) as pg:
        yield pg


def wait_for(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except psycopg.OperationalError:
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def said_unreachable(result: subprocess.CompletedProcess[str], args: tuple[str, ...]) -> None:
    """Another process's command, while the server is down: one line, no traceback."""
    said = (result.stdout + result.stderr).strip()
    assert result.returncode != 0, (args, said)
    assert len(said.splitlines()) == 1 and "store unreachable" in said, (args, said)
    assert "Traceback" not in said, (args, said)


def test_server_restart_mid_run_reconnects_and_the_run_ends(
    cluster: PgCluster, cli_env: dict[str, str], tmp_path: Path
) -> None:
    url = cluster.url("syncdeck")
    env = {
        **cli_env,
        "SYNCDECK_STORE__URL": url,
        "SYNCDECK_SCHEDULE__ENABLED": "false",
        "SYNCDECK_SIMULATION__RUN_SECONDS": "6",
        "SYNCDECK_ORCHESTRATOR__LEASE_TTL_S": "8",
        "SYNCDECK_ORCHESTRATOR__HEARTBEAT_S": "0.5",
    }
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            [*SYNCDECK, "daemon"], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for("the daemon", lambda: "syncdeck daemon" in log.read_text(errors="replace"), 30)
        sent = subprocess.run(
            [*SYNCDECK, "sync", "customers"], env=env, cwd=REPO, capture_output=True, text=True
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        [(request_id,)] = wait_for(
            "a run",
            lambda: rows(url, "SELECT request_id FROM runs WHERE finished_at IS NULL"),
            30,
        )
        committed = rows(url, "SELECT id, kind FROM events ORDER BY id")

        cluster.stop("fast")
        wait_for(
            "store unreachable in the log",
            lambda: "store unreachable" in log.read_text(errors="replace"),
            20,
        )
        assert daemon.poll() is None, log.read_text(errors="replace")
        for args in (("status",), ("status", "--json")):
            said_unreachable(cli(env, *args, timeout=20), args)
        cluster.start()

        ended = wait_for(
            "the request to end",
            lambda: rows(
                url,
                "SELECT state, outcome FROM requests WHERE id = %s AND finished_at IS NOT NULL",
                request_id,
            ),
            60,
        )
        text = log.read_text(errors="replace")
        assert ended == [("succeeded", "succeeded")] or ended[0][0] != "running", ended
        runs = rows(url, "SELECT outcome FROM runs WHERE request_id = %s ORDER BY id", request_id)
        assert runs and all(outcome is not None for (outcome,) in runs), runs
        assert runs[-1] == ("succeeded",), runs
        assert rows(url, "SELECT count(*) FROM requests WHERE state = 'running'") == [(0,)]
        # nothing committed before the restart is lost
        last = committed[-1][0]
        after = rows(url, "SELECT id, kind FROM events WHERE id <= %s ORDER BY id", last)
        assert after == committed
        unreachable = [line for line in text.splitlines() if "store unreachable" in line]
        assert unreachable and "Traceback" not in text, text
        assert daemon.poll() is None, text
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
