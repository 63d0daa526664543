"""`GET /api/sync/status` and `/metrics` for a sync that no longer moves, from a real
`syncdeck serve`: a stalled run (the demo ERP's hang fault, the server the runner) and
an orphaned one (a daemon killed with SIGKILL, the server `--no-runner`).

The API says what `syncdeck status --json` says (the same document), so the keys are
checked here once against the running server: `active.condition`, `active.note`,
`active.no_progress_s`, a progress without rate or ETA, `dispatch`, the service's health
and its reason, and no next run while no runner is alive.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from support.api import READ, ApiServer, api_env, token
from support.procs import Daemons, cli, cli_json, runner_pid, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HUNG = {
    "SYNCDECK_SOURCE__KIND": "demo",
    "SYNCDECK_DEMO__SIZES__ORDERS": "20000",
    "SYNCDECK_DEMO__CHANGES_PER_MINUTE": "0",
    "SYNCDECK_DEMO__FAULTS__HANG_AFTER_PAGES": "2",
}
ORPHANED = "orphaned: its runner is gone; it is requeued when a runner starts"


def status(server: ApiServer) -> dict[str, Any]:
    answer = server.request("GET", "/api/sync/status", token(READ))
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def condition_is(server: ApiServer, condition: str) -> dict[str, Any] | None:
    data = status(server)
    active = data["active"]
    return data if active is not None and active["condition"] == condition else None


def test_a_stalled_run_in_the_api_and_its_metrics(tmp_path: Path, data_dir: Path) -> None:
    env = api_env(data_dir, **HUNG, SYNCDECK_ORCHESTRATOR__STALL_S="1.5")
    server = ApiServer(env, tmp_path)
    try:
        queued = server.request("POST", "/api/sync/orders/full", token())
        assert queued.status_code == 202, queued.text
        moving = wait_until(lambda: condition_is(server, "running"), 30, "the run", server.log)
        assert moving["active"]["note"] is None and moving["dispatch"] == "running"
        data = wait_until(lambda: condition_is(server, "stalled"), 30, "the stall", server.log)
        active = data["active"]
        assert re.fullmatch(
            r"stalled: no progress for (\d+d\d\dh|\d+h\d\dm|\d+m\d\ds|\d+s)", active["note"]
        ), active
        assert active["no_progress_s"] >= 1.5
        progress = active["progress"]
        assert progress["done"] > 0 and progress["total"] == 20000, progress
        assert progress["rate"] is None and progress["eta_s"] is None, progress
        orders = data["health"]["services"]["orders"]
        assert (orders["isHealthy"], orders["state"]) == (False, "degraded")
        assert orders["reasons"][0].startswith("stalled: no progress for ")
        assert data["health"]["allHealthy"] is False
        seed = next(s for s in data["statuses"] if s["type"] == "orders")
        assert seed["status"] == "running"  # the seed's shape: still running, health says why

        # Another process (`status --json`, the same document) says the same figures.
        doc = cli_json(env, "status")
        assert doc["active"]["condition"] == "stalled"
        assert doc["active"]["progress"]["done"] == progress["done"]

        metrics = server.request("GET", "/metrics", token(READ)).text
        age = re.search(r"^syncdeck_progress_age_seconds (\S+)$", metrics, re.M)
        assert age is not None and float(age.group(1)) >= 1.5, metrics
        assert re.search(r'^syncdeck_service_health\{service="orders"\} 1', metrics, re.M)
    finally:
        server.stop()


def test_an_orphaned_run_in_the_api(tmp_path: Path, data_dir: Path) -> None:
    env = api_env(data_dir, **HUNG, SYNCDECK_SCHEDULE__ENABLED="true")
    fleet = Daemons(env, tmp_path)
    server = None
    try:
        daemon = fleet.start()
        wait_until(lambda: runner_pid(data_dir) == daemon.pid, 30, "the lease", fleet.tails)
        server = ApiServer(env, tmp_path, "--no-runner")
        assert cli(env, "sync", "orders", "--mode", "full").returncode == 0
        live = wait_until(lambda: condition_is(server, "running"), 30, "the run", fleet.tails)
        assert all(s["next_run"] is not None for s in live["services"]), live["services"]

        fleet.sigkill(daemon)
        data = wait_until(lambda: condition_is(server, "orphaned"), 30, "the orphan", server.log)
        assert data["active"]["note"] == ORPHANED
        assert data["active"]["progress"] is None or data["active"]["progress"]["eta_s"] is None
        assert (data["runner"], data["dispatch"]) == (None, "none")
        assert all(s["next_run"] is None for s in data["services"]), data["services"]
        orders = data["health"]["services"]["orders"]
        assert orders["state"] == "degraded" and ORPHANED in orders["reasons"], orders
    finally:
        if server is not None:
            server.stop()
        fleet.close()
