"""A sync that no longer moves, in a real terminal: stalled, and orphaned.

The real console (`syncdeck` in tmux, `test_console_e2e`'s `Console` and fixtures), the
real demo ERP with its hang fault, a real `syncdeck daemon` killed with SIGKILL, and
`syncdeck status` from other processes. What is asserted is what an operator sees:
- a source that hangs: the runner's console and every other process say `stalled: no
  progress for ...` with the same figures, no rate, no ETA, and a degraded health;
- a runner killed mid-sync with no other runner: a read-only console and `status` say
  the run is orphaned, dispatch and the schedule stopped, no next run, and health degraded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import test_console_e2e
from support.procs import Daemons, cli, cli_json, runner_pid, wait_until
from test_console_e2e import STARTUP_S, SYNC_S, Console, header_fields, row, services_listed

from console.format import short_count

pytestmark = test_console_e2e.pytestmark

console_env = test_console_e2e.console_env
start_console = test_console_e2e.start_console
"""The fixtures of `test_console_e2e`: the same console, environment and teardown."""

HUNG = {
    "SYNCDECK_DEMO__SIZES__ORDERS": "20000",
    "SYNCDECK_DEMO__FAULTS__HANG_AFTER_PAGES": "2",
}
"""The demo ERP answers two pages of orders, then never again (until the run timeout)."""
SLOW = {
    "SYNCDECK_DEMO__SIZES__ORDERS": "20000",
    "SYNCDECK_DEMO__FAULTS__LATENCY_S": "0.3",
    "SYNCDECK_SYNC__BATCH_SIZE": "500",
}
"""A full orders sync of about 12 s that moves all along (rate and ETA shown)."""
STALL_S = "2"
ORPHANED_NOTE = "orphaned: its runner is gone; it is requeued when a runner starts"
"""Spelled out, as an operator reads it (`core.health.ORPHANED_NOTE`)."""
FIGURES = re.compile(r"(\d+(?:\.\d)?k?)/20k\b")
"""The progress's rows done of 20,000, as the console writes rows (`short_count`)."""


def active_lines(screen: str) -> list[str]:
    """The Active pane's two lines, without the borders."""
    lines = screen.splitlines()
    top = next(i for i, line in enumerate(lines) if "Active sync" in line)
    return [line.strip("│┃ ") for line in lines[top + 1 : top + 3]]


def test_a_hung_source_reads_stalled_in_the_runners_console_and_everywhere_else(
    start_console: Callable[..., Console], console_env: dict[str, str]
) -> None:
    """Issue 21, item 1: the console that runs the sync, `status` and `status --json` in
    other processes say the same thing once `stall_s` passes without progress."""
    extra = {**HUNG, "SYNCDECK_ORCHESTRATOR__STALL_S": STALL_S}
    env = {**console_env, **extra}
    console = start_console("stall", size=(80, 24), **extra)
    console.wait_for("'runner: this console'", lambda s: "runner: this console" in s, STARTUP_S)
    console.press("f")
    console.wait_for("the orders sync running", lambda s: "full listing" in s, SYNC_S)

    screen = console.wait_for(
        "the Active pane saying the run is stalled",
        lambda s: "stalled: no progress for" in "".join(active_lines(s)),
        SYNC_S,
    )
    _, second = active_lines(screen)
    assert second.startswith("stalled: no progress for "), screen
    assert "/s" not in second and "ETA" not in second, screen  # no rate, no ETA as current
    figures = FIGURES.search(second)
    assert figures is not None, screen
    shown = figures.group(1)
    assert shown != "0", screen
    assert (row(screen, "orders") or "").split()[2:4] == ["stalled", "degraded"], screen
    assert "degraded" in header_fields(screen), screen
    assert all(len(line) <= 80 for line in screen.splitlines()), screen

    # Another process reads the store: the same figures and the same words.
    status = cli_json(env, "status")
    active = status["active"]
    done = active["progress"]["done"]
    assert (active["condition"], short_count(done)) == ("stalled", shown), status
    assert active["note"].startswith("stalled: no progress for "), active
    assert active["progress"]["rate"] is None and active["progress"]["eta_s"] is None, active
    orders = next(s for s in status["services"] if s["name"] == "orders")
    assert (orders["state"], orders["health"]) == ("stalled", "degraded"), orders
    assert orders["health_reasons"][0].startswith("stalled: no progress for "), orders
    text = cli(env, "status").stdout
    assert re.search(r"^ {10}! stalled: no progress for \S+$", text, re.M), text
    progress = next(line for line in text.splitlines() if line.startswith("progress:"))
    assert f"done={done} total=20000" in progress and "rows_per_s" not in progress, text
    assert "health: degraded" in text, text


def test_a_run_whose_runner_was_killed_reads_orphaned_in_a_read_only_console_and_status(
    start_console: Callable[..., Console], console_env: dict[str, str], tmp_path: Path
) -> None:
    """Issue 21, item 2: `kill -9` of the only runner mid-sync; nothing takes over (the
    console is read-only), and nothing may look live."""
    extra = {**SLOW, "SYNCDECK_SCHEDULE__ENABLED": "true"}
    env = {**console_env, **extra}
    data_dir = Path(env["SYNCDECK_DATA_DIR"])
    fleet = Daemons(env, tmp_path)
    try:
        daemon = fleet.start()
        wait_until(lambda: runner_pid(data_dir) == daemon.pid, STARTUP_S, "the lease", fleet.tails)
        console = start_console("orphan", size=(80, 24), args=("--read-only",), **extra)
        console.wait_for(
            "the daemon as the runner",
            lambda s: services_listed(s) and f":{daemon.pid}" in s.splitlines()[0],
            STARTUP_S,
        )
        assert cli(env, "sync", "orders", "--mode", "full").returncode == 0
        running = console.wait_for(
            "the orders sync's figures with a rate and an ETA",
            lambda s: bool(FIGURES.search(line := active_lines(s)[1])) and "ETA" in line,
            SYNC_S,
        )
        next_run = (row(running, "orders") or "").split()[4]  # service state health next ...
        assert re.fullmatch(r"\d\d:\d\d:\d\d", next_run), running

        fleet.sigkill(daemon)
        screen = console.wait_for(
            "the Active pane saying the run is orphaned",
            lambda s: ORPHANED_NOTE in "".join(active_lines(s)),
            STARTUP_S,
        )
        _, second = active_lines(screen)
        assert second.startswith(ORPHANED_NOTE), screen
        assert "ETA" not in screen and "/s " not in second, screen
        fields = header_fields(screen)
        assert "runner: none" in fields and "dispatch stopped" in fields, fields
        assert "sched stopped" in fields and "degraded" in fields, fields
        orders = row(screen, "orders") or ""
        assert orders.split()[2:5] == ["orphan", "degraded", "-"], orders  # state, health, next
        assert all(len(line) <= 80 for line in screen.splitlines()), screen
        assert "reported" not in screen and " ago" not in screen, screen

        text = cli(env, "status").stdout
        assert "dispatch: stopped (no runner)   schedule: stopped (no runner)" in text, text
        assert f"          ! {ORPHANED_NOTE}" in text.splitlines(), text
        assert "eta_s" not in text and "health: degraded" in text, text
        status = cli_json(env, "status")
        assert status["runner"] is None and status["active"]["condition"] == "orphaned", status
        orders_state = next(s["state"] for s in status["services"] if s["name"] == "orders")
        assert orders_state == "orphaned", status["services"]
        assert all(s["next_run"] is None for s in status["services"]), status["services"]
    finally:
        fleet.close()
