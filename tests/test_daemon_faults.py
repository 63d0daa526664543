"""A real `syncdeck daemon` off the happy path: its disk fills, its file is deleted.

Every process is the real command line; the disk is a real tmpfs mounted for the
test (root only: elsewhere the test skips and says why), the faults are real `dd`
and `rm`. What is asserted is what an operator sees: `syncdeck status` from another
process, the daemon's log and exit code, and the run history in the store.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.procs import Daemons, cli, read_store, runner_pid, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HEARTBEAT_S = 0.5
LEASE_TTL_S = 3.0


def _env(cli_env: dict[str, str], data_dir: Path) -> dict[str, str]:
    return {
        **cli_env,
        "SYNCDECK_DATA_DIR": str(data_dir),
        "SYNCDECK_SOURCE__KIND": "demo",
        "SYNCDECK_DEMO__FAULTS__LATENCY_S": "0.3",
        "SYNCDECK_SCHEDULE__ENABLED": "false",
        "SYNCDECK_ORCHESTRATOR__HEARTBEAT_S": str(HEARTBEAT_S),
        "SYNCDECK_ORCHESTRATOR__LEASE_TTL_S": str(LEASE_TTL_S),
    }


def _runs(data_dir: Path) -> list[dict[str, Any]]:
    return read_store(data_dir)["runs"]


def test_a_full_disk_is_reported_and_the_run_is_recorded_once_space_returns(
    cli_env: dict[str, str], small_disk: Path
) -> None:
    env = _env(cli_env, small_disk)
    fleet = Daemons(env, small_disk.parent)
    filler = small_disk / "filler"
    try:
        daemon = fleet.start()
        wait_until(
            lambda: runner_pid(small_disk) == daemon.pid, 20, "the daemon's lease", fleet.tails
        )
        assert cli(env, "sync", "orders", "--mode", "full").returncode == 0
        wait_until(
            lambda: any(r["outcome"] is None for r in _runs(small_disk)),
            20,
            "a running run",
            fleet.tails,
        )
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True, check=False
        )

        def unwritable_status() -> str | None:
            out = cli(env, "status")
            ok = out.returncode == 0 and "store unwritable" in out.stdout
            return out.stdout if ok else None

        status = wait_until(
            unwritable_status,
            15,
            "`syncdeck status` saying the store is unwritable",
            fleet.tails,
        )
        assert "no space left" in status
        filler.unlink()
        wait_until(
            lambda: (runs := _runs(small_disk)) and all(r["outcome"] is not None for r in runs),
            30,
            "the run recorded once space returned",
            fleet.tails,
        )
        [run] = _runs(small_disk)
        assert run["outcome"] in {"succeeded", "failed", "interrupted"}
        again = cli(env, "sync", "orders", "--wait", timeout=60)
        assert again.returncode == 0, again.stdout + again.stderr
        assert daemon.poll() is None, "the daemon must not need a restart"
        log = (small_disk.parent / "daemon-0.log").read_text()
        assert "Traceback" not in log, log
        assert log.count("starting nothing until it passes") <= 2, log
    finally:
        with contextlib.suppress(FileNotFoundError):
            filler.unlink()
        fleet.close()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_deleted_or_replaced_store_stops_the_daemon_and_a_second_one_never_overlaps(
    cli_env: dict[str, str], data_dir: Path, how: str
) -> None:
    env = {
        **_env(cli_env, data_dir),
        "SYNCDECK_SOURCE__KIND": "simulated",
        "SYNCDECK_SIMULATION__RUN_SECONDS": "2",
    }
    fleet = Daemons(env, data_dir.parent)
    try:
        first = fleet.start()
        wait_until(lambda: runner_pid(data_dir) == first.pid, 20, "the first lease", fleet.tails)
        assert cli(env, "sync", "orders").returncode == 0
        db = data_dir / "syncdeck.db"
        if how == "replaced":
            source = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            copy = sqlite3.connect(data_dir.parent / "other.db")
            source.backup(copy)
            source.close()
            copy.close()
        for path in data_dir.glob("syncdeck.db*"):
            path.unlink()
        if how == "replaced":
            os.replace(data_dir.parent / "other.db", db)
        first.wait(timeout=HEARTBEAT_S + 5)
        assert first.returncode != 0
        lines = (data_dir.parent / "daemon-0.log").read_text().strip().splitlines()
        assert "Traceback" not in "\n".join(lines)
        assert f"was {how}" in lines[-1], lines
        second = fleet.start()
        wait_until(lambda: runner_pid(data_dir) == second.pid, 20, "the second lease", fleet.tails)
        assert cli(env, "sync", "orders", "--wait", timeout=60).returncode == 0
        runs = sorted(_runs(data_dir), key=lambda r: r["started_at"])
        for a, b in itertools.pairwise(runs):
            assert a["finished_at"] is not None and a["finished_at"] <= b["started_at"]
    finally:
        fleet.close()


HOLD_WRITE_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(120)
"""


def test_a_write_waits_a_bounded_time_on_a_held_lock_then_names_the_holder(
    cli_env: dict[str, str], data_dir: Path
) -> None:
    env = {**_env(cli_env, data_dir), "SYNCDECK_SOURCE__KIND": "simulated"}
    fleet = Daemons(env, data_dir.parent)
    holder = None
    try:
        daemon = fleet.start()
        wait_until(lambda: runner_pid(data_dir) == daemon.pid, 20, "the lease", fleet.tails)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_WRITE_LOCK, str(data_dir / "syncdeck.db")],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        started = time.monotonic()
        status = cli(env, "status")
        assert status.returncode == 0, status.stderr
        write = cli(env, "sync", "orders")
        waited = time.monotonic() - started
        assert write.returncode == 2
        assert write.stderr.startswith(f"syncdeck: the store is locked by pid {daemon.pid}")
        assert len(write.stderr.strip().splitlines()) == 1, write.stderr
        assert waited < 25
    finally:
        if holder is not None:
            holder.kill()
            holder.wait()
        fleet.close()


def _stopped(pid: int) -> bool:
    """Whether `pid` is stopped by a signal (state T in /proc)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def _replica(data_dir: Path) -> tuple[int, tuple[Any, ...] | None]:
    db = sqlite3.connect(f"file:{data_dir / 'syncdeck.db'}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT count(*) FROM orders").fetchone()[0]
        state = db.execute("SELECT * FROM sync_state WHERE entity = 'orders'").fetchone()
    finally:
        db.close()
    return rows, state


def test_a_runner_frozen_past_its_lease_writes_nothing_after_the_takeover(
    cli_env: dict[str, str], data_dir: Path
) -> None:
    env = {**_env(cli_env, data_dir), "SYNCDECK_SYNC__BATCH_SIZE": "500"}
    fleet = Daemons(env, data_dir.parent)
    a = fleet.start("--freeze-before-batch", "3")
    try:
        wait_until(lambda: runner_pid(data_dir) == a.pid, 20, "A's lease", fleet.tails)
        assert cli(env, "sync", "orders", "--mode", "full").returncode == 0
        wait_until(lambda: _stopped(a.pid), 20, "A frozen before a batch commit", fleet.tails)
        assert cli(env, "pause").returncode == 0  # B must start nothing of its own
        b = fleet.start()
        wait_until(lambda: runner_pid(data_dir) == b.pid, 20, "B's takeover", fleet.tails)
        at_takeover = _replica(data_dir)
        assert at_takeover[0] == 1000  # the two batches A committed before it froze
        os.kill(a.pid, signal.SIGCONT)
        log = data_dir.parent / "daemon-0.log"
        wait_until(
            lambda: "lost its lease; not recorded" in log.read_text(),
            20,
            "A awake, its run given up",
            fleet.tails,
        )
        runs = _runs(data_dir)
        assert [r["outcome"] for r in runs] == ["interrupted"], runs
        assert _replica(data_dir) == at_takeover
    finally:
        fleet.close()
