"""`syncdeck probe SERVICE` (issue 21 item 10), run as real subprocesses beside real daemons.

A daemon whose ERP fails opens the orders circuit with a cooldown far longer than the
test; once the ERP is "fixed" (a daemon that succeeds), `probe` lets the queued request
run at once and the circuit closes, long before the cooldown would have ended. A closed
circuit is refused with exit 1, an unknown service with exit 2.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import test_cli
from test_cli import Daemon, as_json, ok, start_daemon, syncdeck, usage_error

from core.models import Event, EventKind
from core.store import SQLiteStore

COOLDOWN_S = "3600"


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    """As `test_cli`'s: no schedule, simulated runs of 0.2 s."""
    return {
        **cli_env,
        "SYNCDECK_SCHEDULE__ENABLED": "false",
        "SYNCDECK_SIMULATION__RUN_SECONDS": "0.2",
    }


daemons = test_cli.daemons
"""`test_cli`'s fixture: the daemons a test starts, stopped after it."""


def orders(env: dict[str, str]) -> dict[str, Any]:
    return next(s for s in as_json(env, "status")["services"] if s["name"] == "orders")


def probe_events(data_dir: Path) -> list[Event]:
    async def read() -> list[Event]:
        store = SQLiteStore(data_dir / "syncdeck.db")
        await store.open()
        try:
            events = await store.events_since(0, 1000)
        finally:
            await store.close()
        return [e for e in events if e.kind == EventKind.CIRCUIT_PROBE_REQUESTED]

    return asyncio.run(read())


def test_probe_refuses_a_closed_circuit_and_an_unknown_service(env: dict[str, str]) -> None:
    ok(env, "resume")  # a store
    closed = syncdeck(env, "probe", "orders")
    assert closed.returncode == 1, (closed.stdout, closed.stderr)
    assert closed.stderr == "syncdeck: the orders circuit is closed: nothing to probe\n"
    assert closed.stdout == ""
    assert "unknown service 'nope'" in usage_error(env, "probe", "nope")
    assert as_json(env, "status")["queue"] == []


def test_probe_runs_an_open_circuits_request_before_its_cooldown(
    env: dict[str, str], data_dir: Path, tmp_path: Path, daemons: list[Daemon]
) -> None:
    env = {
        **env,
        "SYNCDECK_ORCHESTRATOR__CIRCUIT__FAILURE_THRESHOLD": "1",
        "SYNCDECK_ORCHESTRATOR__CIRCUIT__COOLDOWN_S": COOLDOWN_S,
        "SYNCDECK_ORCHESTRATOR__RETRY__TRIES": "1",
    }
    broken = start_daemon({**env, "SYNCDECK_SIMULATION__FAILURE_RATE": "1"}, tmp_path, daemons)
    failed = syncdeck(env, "sync", "orders", "--wait", "--timeout", "30")
    assert failed.returncode == 1, (failed.stdout, failed.stderr)
    assert orders(env)["circuit"] == "open"
    assert broken.stop() == 0

    # The ERP is fixed; the request an operator queues waits out the cooldown...
    fixed = start_daemon(env, tmp_path, daemons)
    queued = as_json(env, "sync", "orders")
    time.sleep(1.0)  # a live runner, which would have started it by now
    assert [q["id"] for q in as_json(env, "status")["queue"]] == [queued["id"]]
    assert orders(env)["circuit"] == "open"

    # ...until `probe`: the same request probes now, and its success closes the circuit.
    result = ok(env, "probe", "orders")
    assert f"orders: circuit half-open; request #{queued['id']} probes it" in result.stdout
    deadline = time.monotonic() + 20
    while orders(env)["circuit"] != "closed":
        assert time.monotonic() < deadline, orders(env)
        time.sleep(0.1)
    history = as_json(env, "history", "orders")
    assert [run["outcome"] for run in history] == ["succeeded", "failed"]
    assert history[0]["request_id"] == queued["id"]
    [asked] = probe_events(data_dir)
    assert asked.data["by"] == "cli" and asked.data["source"] == "cli"
    assert asked.data["queued"] is False and asked.request_id == queued["id"]
    again = syncdeck(env, "probe", "orders", "--json")
    assert again.returncode == 1 and "circuit is closed" in again.stderr
    assert fixed.stop() == 0
