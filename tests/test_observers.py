"""What a process that does not run syncs sees of the one that does: real daemons, and
`syncdeck status` run as separate processes on the same store.

- the progress of a run under way (done/total, rows/s, ETA), read from the store;
- the runner's schedule and health, whatever the observer's own profile says;
- why nothing runs while requests wait;
- the daemon's log: a start line, ISO 8601 times, durations in seconds, key=value counts,
  and a stop line that says the lease was released and how many requests wait.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SYNCDECK
from support.procs import stop, wait_until

from core.config import Settings
from core.schedule.plan import service_offset_s


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*SYNCDECK, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def status_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(run(env, *args, "status", "--json").stdout)


def until(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    return wait_until(check, timeout, what)


class Daemon:
    def __init__(self, env: dict[str, str], directory: Path, *args: str) -> None:
        self.out = directory / "daemon.out"
        self.err = directory / "daemon.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                [*SYNCDECK, *args, "daemon"], env=env, cwd=REPO, stdout=out, stderr=err
            )
        until(lambda: self._started(), what="the daemon's start line")

    def _started(self) -> bool:
        assert self.proc.poll() is None, self.err.read_text()
        return "syncdeck daemon started" in self.err.read_text()

    def stop(self) -> int:
        return stop(self.proc)


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.stop()


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, "SYNCDECK_SCHEDULE__ENABLED": "false"}


def test_status_in_another_process_shows_the_progress_of_a_slow_full_sync(
    env: dict[str, str], tmp_path: Path, daemons: list[Daemon]
) -> None:
    slow = {
        **env,
        "SYNCDECK_SOURCE__KIND": "demo",
        "SYNCDECK_DEMO__FAULTS__LATENCY_S": "0.3",
        "SYNCDECK_DEMO__SIZES__ORDERS": "8000",
        "SYNCDECK_SYNC__BATCH_SIZE": "500",
        "SYNCDECK_DEMO__CHANGES_PER_MINUTE": "0",
        "SYNCDECK_ORCHESTRATOR__STALL_S": "2",
    }
    daemons.append(Daemon(slow, tmp_path))
    run(slow, "sync", "orders", "--mode", "full")

    def progressing() -> dict[str, Any] | None:
        active = status_json(env)["active"]
        progress = None if active is None else active["progress"]
        return progress if progress is not None and progress["done"] > 0 else None

    progress = until(progressing, what="progress from the daemon's run")
    assert progress["total"] == 8000 and 0 < progress["done"] <= 8000
    assert progress["rate"] > 0 and progress["eta_s"] is not None
    text = run(env, "status").stdout
    line = next(x for x in text.splitlines() if x.startswith("progress:"))
    assert re.search(r"done=\d+ total=8000 rows_per_s=[\d.]+", line), text
    later = until(
        lambda: (p := progressing()) is not None and p["done"] > progress["done"] and p,
        what="progress to move",
    )
    assert later["done"] > progress["done"]
    assert datetime.fromisoformat(later["recorded_at"]).tzinfo is not None

    # A runner that stops reporting (frozen here) must not look current to an observer: its
    # run is stalled after the runner's stall_s, and its figures lose their rate and ETA.
    daemon = daemons[-1]
    daemon.proc.send_signal(signal.SIGSTOP)
    try:
        text = until(
            lambda: "! stalled: no progress" in (out := run(env, "status").stdout) and out,
            what="status to show the frozen runner's run stalled",
        )
        line = next(x for x in text.splitlines() if x.startswith("progress:"))
        assert "rows_per_s" not in line and "eta_s" not in line, text
    finally:
        daemon.proc.send_signal(signal.SIGCONT)


def test_an_observer_without_the_profile_shows_the_runners_schedule_and_health(
    cli_env: dict[str, str], tmp_path: Path, daemons: list[Daemon]
) -> None:
    daemon = Daemon(cli_env, tmp_path, "--profile", "demo")
    demo, default = Settings.from_values(profile="demo"), Settings.from_values()
    assert demo.interval_s("orders") != default.interval_s("orders")

    def published() -> Any:
        doc = status_json(cli_env)  # no --profile: the default profile's own plan differs
        return doc if doc["plan_holder"] is not None else None

    seen = until(published, what="the runner's published plan")
    assert seen["runner"] is not None and seen["plan_holder"] == seen["runner"]["holder"]
    assert seen["schedule"] == "running"
    as_runner = status_json(cli_env, "--profile", "demo")
    by_name = {s["name"]: s for s in seen["services"]}
    for service in as_runner["services"]:
        mine = by_name[service["name"]]
        assert mine["interval_s"] == demo.interval_s(service["name"])
        assert mine["offset_s"] == service_offset_s(demo, service["name"])
        assert (mine["health"], mine["health_reasons"]) == (
            service["health"],
            service["health_reasons"],
        )
        if mine["next_run"] is not None and service["next_run"] is not None:
            # both read the runner's plan: the same instant, unless one fired in between
            gap = datetime.fromisoformat(mine["next_run"]) - datetime.fromisoformat(
                service["next_run"]
            )
            assert abs(gap.total_seconds()) in (0.0, mine["interval_s"])
    text = run(cli_env, "status").stdout
    assert "schedule: running" in text and "plan:" in text
    assert daemon.stop() == 0


def test_schedule_under_another_profile_shows_the_runners_plan(
    cli_env: dict[str, str], tmp_path: Path, daemons: list[Daemon]
) -> None:
    """`syncdeck schedule` without the daemon's profile shows the daemon's intervals,
    offsets, wanted gap and fires, not those of its own configuration."""
    daemons.append(Daemon(cli_env, tmp_path, "--profile", "demo"))
    demo, default = Settings.from_values(profile="demo"), Settings.from_values()
    until(lambda: status_json(cli_env)["plan_holder"], what="the runner's published plan")

    doc = json.loads(run(cli_env, "schedule", "--json").stdout)  # the default profile here
    assert doc["enabled"] is True and doc["stagger_s"] == demo.stagger_s != default.stagger_s
    for service in doc["services"]:
        name = service["name"]
        assert service["interval_s"] == demo.interval_s(name) != default.interval_s(name)
        assert service["offset_s"] == service_offset_s(demo, name)
    gaps = [f["gap_s"] for f in doc["timeline"] if f["gap_s"] is not None]
    assert gaps and max(gaps) <= max(demo.interval_s(s["name"]) for s in doc["services"])
    text = run(cli_env, "schedule").stdout
    assert f"every {demo.interval_s('orders'):g}s" in text, text


def test_a_runner_with_the_schedule_disabled_shows_disabled_to_every_observer(
    cli_env: dict[str, str], tmp_path: Path, daemons: list[Daemon]
) -> None:
    daemons.append(Daemon({**cli_env, "SYNCDECK_SCHEDULE__ENABLED": "false"}, tmp_path))
    # the observer's own configuration keeps a schedule; the runner's does not
    doc = until(
        lambda: (d := status_json(cli_env))["plan_holder"] is not None and d,
        what="the runner's published plan",
    )
    assert doc["schedule"] == "disabled"
    assert all(s["next_run"] is None for s in doc["services"])
    text = run(cli_env, "status").stdout
    assert "schedule: disabled" in text and "schedule: running" not in text


def test_status_says_why_nothing_runs(env: dict[str, str]) -> None:
    run(env, "sync", "orders")
    text = run(env, "status").stdout
    assert "idle:     no runner is alive; `syncdeck daemon` or `syncdeck` starts one" in text
    doc = status_json(env)
    assert doc["idle_reason"]["kind"] == "no_runner"
    assert doc["schedule"] == "disabled"


def test_status_says_dispatch_is_paused_while_a_runner_waits(
    env: dict[str, str], tmp_path: Path, daemons: list[Daemon]
) -> None:
    run(env, "pause")
    daemons.append(Daemon(env, tmp_path))
    run(env, "sync", "orders")
    until(lambda: status_json(env)["runner"] is not None, what="a runner")
    text = run(env, "status").stdout
    assert "idle:     dispatch is paused; resume with `syncdeck resume`" in text


ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"


def test_the_daemon_log_is_operator_grade(
    env: dict[str, str], tmp_path: Path, daemons: list[Daemon]
) -> None:
    fast = {**env, "SYNCDECK_SIMULATION__RUN_SECONDS": "0.2"}
    daemon = Daemon(fast, tmp_path)
    start = daemon.err.read_text()
    line = next(x for x in start.splitlines() if x.startswith("syncdeck daemon started"))
    assert f"store={tmp_path / 'data' / 'syncdeck.db'}" in line or "store=/" in line
    assert "role=runner epoch=" in line and "schedule=disabled" in line and "queued=0" in line
    run(fast, "sync", "orders", "--wait", "--timeout", "30")
    run(fast, "pause")
    run(fast, "sync", "customers")
    run(fast, "sync", "products")
    until(lambda: "dispatch.paused" in daemon.out.read_text(), what="the pause in the log")
    assert daemon.stop() == 0

    log = daemon.out.read_text()
    finished = next(x for x in log.splitlines() if " run.finished orders" in x)
    assert re.match(ISO + r" run\.finished orders#\d+ ", finished), finished
    assert re.search(r" duration_s=\d+\.\d\d\b", finished), finished
    assert re.search(r" fetched=\d+ inserted=\d+ updated=\d+", finished), finished
    assert "counts=" not in finished and "{" not in finished
    stop = daemon.err.read_text().splitlines()[-1]
    assert stop == "stopping: lease released, 2 queued"
