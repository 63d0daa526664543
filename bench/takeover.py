"""Takeover benchmark: how long the runner lease stays without a live holder after the runner
is SIGKILLed and after a graceful stop (SIGTERM), on SQLite and on PostgreSQL, beside the
lease TTL.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres, as `make test`
starts it; `--admin-url` names another; without a server the PostgreSQL half is skipped,
saying so):

    .venv/bin/python bench/takeover.py            # 5 rounds of each
    .venv/bin/python bench/takeover.py --rounds N

Two real `syncdeck daemon` processes share one store (a fresh data directory; for
PostgreSQL a database of the benchmark's own, dropped `WITH (FORCE)` at the end). The
holder is read from the store's own `lease` table; it is stopped, and the time until the
other daemon holds the lease under a new epoch is measured from the signal, on this
process's monotonic clock. The stopped daemon is started again before the next round.
Both daemons run on this host, so after a SIGKILL the survivor sees that the holder's pid
is gone and may take over before expiry; a dead holder on another host is waited for until
its lease expires (at most the TTL).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
TTL_S = 4.0
HEARTBEAT_S = 0.5


def lease_reader(url: str | None, data_dir: Path) -> Callable[[], tuple[int, int] | None]:
    def read() -> tuple[int, int] | None:
        try:
            if url is None:
                with sqlite3.connect(data_dir / "syncdeck.db", timeout=5) as db:
                    row = db.execute("SELECT pid, epoch FROM lease WHERE id = 1").fetchone()
            else:
                with psycopg.connect(url, options="-c search_path=syncdeck") as conn:
                    row = conn.execute("SELECT pid, epoch FROM lease WHERE id = 1").fetchone()
        except (sqlite3.Error, psycopg.Error):
            return None
        return None if row is None else (int(row[0]), int(row[1]))

    return read


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "console", "daemon"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def measure(name: str, url: str | None, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="syncdeck-takeover-") as tmp:
        data = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCDECK_")}
        env |= {
            "SYNCDECK_DATA_DIR": str(data),
            "SYNCDECK_SOURCE__KIND": "simulated",
            "SYNCDECK_SCHEDULE__ENABLED": "false",
            "SYNCDECK_ORCHESTRATOR__LEASE_TTL_S": str(TTL_S),
            "SYNCDECK_ORCHESTRATOR__HEARTBEAT_S": str(HEARTBEAT_S),
        }
        if url is not None:
            env["SYNCDECK_STORE__URL"] = url
        read = lease_reader(url, data)
        procs = [start(env, data / f"d{i}.log") for i in range(2)]
        figures: dict[str, list[float]] = {"SIGKILL": [], "SIGTERM": []}
        try:
            for sig in [signal.SIGKILL, signal.SIGTERM] * rounds:
                deadline = time.monotonic() + 60
                while (lease := read()) is None or lease[0] not in [p.pid for p in procs]:
                    assert time.monotonic() < deadline, "no daemon took the lease"
                    time.sleep(0.02)
                time.sleep(1.0)  # both settled: the follower polls
                pid, epoch = lease
                holder = next(p for p in procs if p.pid == pid)
                sent = time.monotonic()
                holder.send_signal(sig)
                if sig == signal.SIGKILL:
                    holder.wait()  # reaped at once, as init would: not a zombie that looks alive
                while (now := read()) is None or now[1] <= epoch or now[0] == pid:
                    assert time.monotonic() < sent + 60, "no takeover"
                    time.sleep(0.005)
                figures[sig.name].append(time.monotonic() - sent)
                holder.wait(timeout=30)
                procs[procs.index(holder)] = start(env, data / "again.log")
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for kind, values in figures.items():
            print(
                f"{name:10} after {kind}: median {statistics.median(values):.2f} s, "
                f"max {max(values):.2f} s over {len(values)} rounds (lease TTL {TTL_S:.0f} s)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(f"takeover: two daemons on one store, heartbeat {HEARTBEAT_S} s, TTL {TTL_S} s")
    measure("SQLite", None, args.rounds)
    db = f"syncdeck_takeover_{os.getpid()}"
    try:
        admin = psycopg.connect(args.admin_url, autocommit=True)
    except psycopg.Error as exc:
        print(f"PostgreSQL skipped: {str(exc).strip().splitlines()[0]}")
        return
    with admin:
        admin.execute(f"CREATE DATABASE {db} TEMPLATE template0")
        try:
            base = args.admin_url.rsplit("/", 1)[0]
            measure("PostgreSQL", f"{base}/{db}", args.rounds)
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    main()
