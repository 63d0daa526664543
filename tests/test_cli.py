"""The `syncdeck` command line, run as real subprocesses on a temporary data directory."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SYNCDECK
from support.procs import stop

COMMANDS = [
    "daemon",
    "status",
    "sync",
    "cancel",
    "probe",
    "history",
    "pause",
    "resume",
    "priority",
]
SERVICES = ["customers", "orders", "prices", "products"]


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return {
        **cli_env,
        "SYNCDECK_SCHEDULE__ENABLED": "false",
        "SYNCDECK_SIMULATION__RUN_SECONDS": "0.2",
    }


def syncdeck(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SYNCDECK, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def ok(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = syncdeck(env, *args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def as_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(ok(env, *args, "--json").stdout)


def usage_error(env: dict[str, str], *args: str) -> str:
    result = syncdeck(env, *args)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stderr


def aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None and value.utcoffset() is not None, text
    return value


class Daemon:
    """`syncdeck daemon` in the background; its output goes to files we can read."""

    def __init__(self, env: dict[str, str], directory: Path) -> None:
        self.out = directory / "daemon.out"
        self.err = directory / "daemon.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                [*SYNCDECK, "daemon"], env=env, cwd=REPO, stdout=out, stderr=err
            )

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while "syncdeck daemon" not in self.err.read_text():
            assert self.proc.poll() is None, self.err.read_text()
            assert time.monotonic() < deadline, "daemon did not start"
            time.sleep(0.05)

    def stop(self) -> int:
        return stop(self.proc)


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.stop()


def start_daemon(env: dict[str, str], tmp_path: Path, daemons: list[Daemon]) -> Daemon:
    daemon = Daemon(env, tmp_path)
    daemons.append(daemon)
    daemon.wait_ready()
    return daemon


# -- help and usage ------------------------------------------------------------------------


def run_all(env: dict[str, str], *arglists: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Independent commands, started together (they share nothing but the data directory)."""
    procs = [
        (
            args,
            subprocess.Popen(
                [*SYNCDECK, *args],
                env=env,
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for args in arglists
    ]
    results = []
    for args, proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return results


def usage_errors(env: dict[str, str], *arglists: list[str]) -> list[str]:
    results = run_all(env, *arglists)
    for result in results:
        assert result.returncode == 2, (result.args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    return [r.stderr for r in results]


def test_help_exits_0_for_every_command(env: dict[str, str], data_dir: Path) -> None:
    commands: list[str | None] = [None, *COMMANDS]
    results = run_all(env, *[["--help"] if c is None else [c, "--help"] for c in commands])
    for command, result in zip(commands, results, strict=True):
        assert result.returncode == 0, (command, result.stderr)
        expected = "usage: syncdeck" if command is None else f"usage: syncdeck {command}"
        assert result.stdout.startswith(expected), result.stdout
        assert result.stderr == ""
    for name in COMMANDS:
        assert name in results[0].stdout
    assert list(data_dir.iterdir()) == []  # asking for help creates no store


def test_the_bare_command_reads_as_the_parser_would_read_it() -> None:
    """`syncdeck` with no arguments skips argparse (`console.cli.BARE`): same namespace."""
    from console.cli import BARE, parse_args
    from console.cli.parser import build_parser

    assert vars(build_parser().parse_args([])) == BARE == vars(parse_args([]))
    assert vars(parse_args(["--read-only"]))["read_only"] is True


def test_unknown_service_exits_2_with_a_clear_message(env: dict[str, str]) -> None:
    ok(env, "resume")  # create the store first: the three commands below then only read it
    for stderr in usage_errors(
        env, ["sync", "nope"], ["history", "nope"], ["priority", "nope", "5"]
    ):
        assert "unknown service 'nope'" in stderr
        assert "known: customers, orders, prices, products" in stderr
    assert as_json(env, "status")["queue"] == []


def test_bad_priority_exits_2(env: dict[str, str]) -> None:
    ok(env, "resume")  # a store to read afterwards (`status` creates none)
    errors = usage_errors(
        env,
        ["sync", "orders", "--priority", "101"],
        ["priority", "orders", "500"],
        ["sync", "orders", "--priority", "high"],
        ["priority", "orders", "1.5"],
        ["sync", "orders", "--mode", "fast"],
        ["frobnicate"],
    )
    expected = ["must be between 0 and 100"] * 2 + ["not a whole number"] * 2
    expected += ["invalid choice"] * 2
    for stderr, text in zip(errors, expected, strict=True):
        assert text in stderr, stderr
    status = as_json(env, "status")
    assert status["queue"] == []
    assert {s["name"]: s["priority"] for s in status["services"]}["orders"] == 4


# -- queueing and status ---------------------------------------------------------------------


def test_sync_queues_and_a_second_call_merges(env: dict[str, str]) -> None:
    first = as_json(env, "sync", "orders")
    assert (first["service"], first["state"], first["mode"]) == ("orders", "queued", "auto")
    assert (first["source"], first["merged"], first["priority"]) == ("cli", 0, 4)
    second = as_json(env, "sync", "orders", "--mode", "full", "--priority", "9")
    assert second["id"] == first["id"]
    assert (second["merged"], second["mode"], second["priority"]) == (1, "full", 9)
    text = ok(env, "sync", "orders")
    assert f"merged into request #{first['id']}" in text.stdout
    text = ok(env, "sync", "prices")
    assert "queued as request #" in text.stdout
    queue = as_json(env, "status")["queue"]
    assert [(q["service"], q["merged"], q["mode"]) for q in queue] == [
        ("orders", 2, "full"),
        ("prices", 0, "auto"),
    ]


def test_status_json_contract(env: dict[str, str]) -> None:
    request = as_json(env, "sync", "orders", "--mode", "full")
    status = as_json(env, "status")
    assert {"services", "queue", "active", "runner", "health"} <= status.keys()
    assert status["active"] is None
    assert status["runner"] is None  # no daemon
    assert status["health"] in ("healthy", "degraded", "unhealthy")

    assert sorted(s["name"] for s in status["services"]) == SERVICES
    for service in status["services"]:
        assert {"name", "state", "priority", "health", "last_run", "next_run"} <= service.keys()
        assert service["health"] in ("healthy", "degraded", "unhealthy")
        assert service["last_run"] is None
        assert service["next_run"] is None  # SYNCDECK_SCHEDULE__ENABLED=false
    by_name = {s["name"]: s for s in status["services"]}
    assert (by_name["orders"]["state"], by_name["orders"]["priority"]) == ("queued", 4)
    assert (by_name["prices"]["state"], by_name["prices"]["priority"]) == ("idle", 1)

    [entry] = status["queue"]
    assert {"id", "service", "mode", "priority", "state", "requested_at", "source"} <= entry.keys()
    assert entry["id"] == request["id"]
    assert (entry["service"], entry["mode"], entry["priority"]) == ("orders", "full", 4)
    assert (entry["state"], entry["source"]) == ("queued", "cli")
    aware(entry["requested_at"])
    aware(status["at"])

    text = ok(env, "status").stdout
    assert "runner:   none" in text and "active:   none" in text
    queue_lines = text.split("SOURCE", 1)[1].strip().splitlines()
    assert len(queue_lines) == 1
    assert "orders" in queue_lines[0] and "full" in queue_lines[0]
    assert queue_lines[0].endswith("cli")

    # with the schedule on but no runner alive, nothing ticks: no next run is promised, and
    # neither the schedule nor dispatch reads as running
    scheduled = as_json({**env, "SYNCDECK_SCHEDULE__ENABLED": "true"}, "status")
    assert (scheduled["schedule"], scheduled["dispatch"]) == ("none", "none")
    assert all(service["next_run"] is None for service in scheduled["services"])
    text = ok({**env, "SYNCDECK_SCHEDULE__ENABLED": "true"}, "status").stdout
    assert "dispatch: stopped (no runner)   schedule: stopped (no runner)" in text, text


def test_cancel_a_queued_request(env: dict[str, str]) -> None:
    request = as_json(env, "sync", "orders")
    other = as_json(env, "sync", "prices")
    result = ok(env, "cancel", str(request["id"]))
    assert f"request #{request['id']}: cancelled" in result.stdout
    assert [q["id"] for q in as_json(env, "status")["queue"]] == [other["id"]]
    errors = usage_errors(env, ["cancel", str(request["id"])], ["cancel", "9999"], ["cancel", "0"])
    for stderr, text in zip(
        errors, ["already ended", "no request #9999", "at least 1"], strict=True
    ):
        assert text in stderr, stderr
    # a new request after the cancel is a new request, not a merge into the cancelled one
    again = as_json(env, "sync", "orders")
    assert again["id"] != request["id"] and again["merged"] == 0


def test_pause_resume_and_priority(env: dict[str, str]) -> None:
    assert "paused" in ok(env, "pause").stdout
    status = as_json(env, "status")
    assert (status["dispatch_paused"], status["schedule_paused"]) == (True, False)
    ok(env, "pause", "--schedule")
    ok(env, "resume")
    status = as_json(env, "status")
    assert (status["dispatch_paused"], status["schedule_paused"]) == (False, True)
    ok(env, "resume", "--schedule")

    assert "default priority 9" in ok(env, "priority", "prices", "9").stdout
    request = as_json(env, "sync", "prices")
    assert request["priority"] == 9  # new requests take the new default
    ok(env, "priority", "prices", "77", "--request", str(request["id"]))
    status = as_json(env, "status")
    assert status["schedule_paused"] is False
    by_name = {s["name"]: s["priority"] for s in status["services"]}
    assert by_name == {"customers": 3, "orders": 4, "prices": 9, "products": 2}
    [entry] = status["queue"]
    assert (entry["id"], entry["priority"]) == (request["id"], 77)
    ok(env, "cancel", str(request["id"]))
    assert "only a queued request" in usage_error(
        env, "priority", "prices", "5", "--request", str(request["id"])
    )


def test_priority_request_checks_the_named_service(env: dict[str, str]) -> None:
    prices = as_json(env, "sync", "prices")
    usage_error(env, "priority", "nope", "50", "--request", str(prices["id"]))
    usage_error(env, "priority", "orders", "50", "--request", str(prices["id"]))
    [entry] = as_json(env, "status")["queue"]
    assert entry["priority"] == 1


def test_schema_too_new_exits_2(env: dict[str, str], data_dir: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(data_dir / "syncdeck.db")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    stderr = usage_error(env, "status")
    assert "schema version 999" in stderr and "upgrade" in stderr


# -- with a daemon ----------------------------------------------------------------------------


def test_sync_wait_says_an_incremental_without_a_cursor_ran_as_a_full_pass(
    env: dict[str, str], tmp_path: Path, daemons: list[Daemon]
) -> None:
    """The daemon decides the mode; the waiting CLI reports what it ran, and why."""
    start_daemon(env, tmp_path, daemons)
    first = syncdeck(env, "sync", "orders", "--mode", "incremental", "--wait", "--timeout", "30")
    assert first.returncode == 0, (first.stdout, first.stderr)
    assert "(orders full, not incremental: incremental requested, no cursor yet," in first.stdout
    again = syncdeck(env, "sync", "orders", "--mode", "incremental", "--wait", "--timeout", "30")
    assert again.returncode == 0, (again.stdout, again.stderr)
    assert "(orders incremental, " in again.stdout, again.stdout


def test_sync_wait_succeeds_with_a_daemon_and_history_json(
    env: dict[str, str], tmp_path: Path, daemons: list[Daemon]
) -> None:
    daemon = start_daemon(env, tmp_path, daemons)
    runner = as_json(env, "status")["runner"]
    assert runner is not None and runner["pid"] == daemon.proc.pid

    result = syncdeck(env, "sync", "orders", "--mode", "full", "--wait", "--timeout", "30")
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert ": succeeded (orders full" in result.stdout
    # Durations in the one format every client uses (`console.format.duration`), not 0.4s.
    assert re.search(r"\(orders full, \d+(m\d\d)?s, fetched ", result.stdout), result.stdout
    waited = as_json(env, "sync", "prices", "--wait", "--timeout", "30")
    assert (waited["state"], waited["outcome"]) == ("finished", "succeeded")
    assert waited["run"]["counts"]["fetched"] > 0

    history = as_json(env, "history")
    assert [h["service"] for h in history] == ["prices", "orders"]  # newest first
    for run in history:
        assert {
            "id",
            "request_id",
            "service",
            "mode",
            "outcome",
            "started_at",
            "finished_at",
            "error",
            "counts",
        } <= run.keys()
        assert run["outcome"] == "succeeded" and run["error"] is None
        assert aware(run["finished_at"]) >= aware(run["started_at"])
        assert set(run["counts"]) >= {"fetched", "inserted", "updated", "deleted", "rejected"}
    assert history[1]["mode"] == "full" and history[1]["counts"]["fetched"] == 1000
    assert [h["service"] for h in as_json(env, "history", "orders")] == ["orders"]
    text = ok(env, "history").stdout
    assert "orders" in text and "succeeded" in text
    header, *lines = text.splitlines()
    assert header.split()[:3] == ["RUN", "REQUEST", "STARTED"] and len(lines) == 2
    for line in lines:  # RUN REQUEST DATE TIME SERVICE MODE OUTCOME TIME COUNTS
        assert re.fullmatch(r"\d+(m\d\d)?s", line.split()[7]), line

    # A reader that goes away (`syncdeck history | head -1`): silence, and the SIGPIPE
    # convention's status, as other Unix tools. The read end is closed before the child
    # can print, so the write fails every time.
    reader = subprocess.Popen(
        [*SYNCDECK, "history"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()
    assert reader.wait(timeout=60) == 128 + signal.SIGPIPE
    assert reader.stderr.read() == b""

    status = as_json(env, "status")
    orders = {s["name"]: s for s in status["services"]}["orders"]
    assert orders["last_run"]["outcome"] == "succeeded"
    aware(orders["last_run"]["finished_at"])
    assert status["queue"] == [] and status["active"] is None

    assert daemon.stop() == 0
    log = daemon.out.read_text()
    assert "request.queued orders" in log and "run.finished orders" in log
    assert as_json(env, "status")["runner"] is None  # the lease was released


def test_sync_wait_exits_1_when_the_sync_fails(
    env: dict[str, str], tmp_path: Path, daemons: list[Daemon]
) -> None:
    failing = {
        **env,
        "SYNCDECK_SIMULATION__FAILURE_RATE": "1",
        "SYNCDECK_ORCHESTRATOR__RETRY__TRIES": "1",
    }
    start_daemon(failing, tmp_path, daemons)
    result = syncdeck(env, "sync", "orders", "--wait", "--timeout", "30")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert ": failed" in result.stdout
    assert "simulated ERP timeout" in result.stdout
    [run] = as_json(env, "history")
    assert run["outcome"] == "failed"
    assert run["error_class"] == "TransientError"
    assert "simulated ERP timeout" in run["error"]


def test_cancel_a_running_sync_from_another_process(
    env: dict[str, str], tmp_path: Path, daemons: list[Daemon]
) -> None:
    start_daemon({**env, "SYNCDECK_SIMULATION__RUN_SECONDS": "10"}, tmp_path, daemons)
    waiter = subprocess.Popen(
        [*SYNCDECK, "sync", "orders", "--wait", "--timeout", "30", "--json"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while (active := as_json(env, "status")["active"]) is None:
            assert waiter.poll() is None, waiter.communicate()
            assert time.monotonic() < deadline, "the sync did not start"
        assert active["service"] == "orders"
        result = ok(env, "cancel", str(active["id"]))
        assert "asked the running orders sync to stop" in result.stdout
        out, err = waiter.communicate(timeout=30)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert waiter.returncode == 1, (out, err)
    document = json.loads(out)
    assert document["id"] == active["id"]
    assert (document["state"], document["outcome"]) == ("cancelled", "cancelled")
    assert document["run"]["outcome"] == "cancelled"
    assert document["run"]["duration_s"] < 10  # stopped, not run to the end


# -- services from other packages -----------------------------------------------------------

PLUGIN = """
from core.models import RunCounts, SyncMode


class Invoices:
    name = "invoices"

    async def resolve_mode(self, requested):
        return SyncMode.FULL, "the invoices plugin always runs full"

    async def run(self, ctx):
        ctx.report("listing invoices", 3, 3)
        return RunCounts(fetched=3, inserted=3)


def make(settings):
    return Invoices()
"""


def test_a_service_from_an_installed_package_is_listed_and_runs(
    env: dict[str, str], tmp_path: Path, daemons: list[Daemon]
) -> None:
    """The `syncdeck.services` entry point group, as the README documents it: a package
    installed beside syncdeck (here: a module and its dist-info on PYTHONPATH)."""
    site = tmp_path / "site"
    dist = site / "syncdeck_invoices-1.0.dist-info"
    dist.mkdir(parents=True)
    (site / "syncdeck_invoices.py").write_text(PLUGIN)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: syncdeck-invoices\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[syncdeck.services]\ninvoices = syncdeck_invoices:make\n"
    )
    usage_error(env, "sync", "invoices")  # not installed: an unknown service
    config = Path(env["SYNCDECK_DATA_DIR"]) / "syncdeck.toml"
    config.write_text("[services.invoices]\npriority = 2\n")
    assert "services.invoices: no such service" in usage_error(env, "status")

    env = {**env, "PYTHONPATH": str(site)}
    names = [s["name"] for s in as_json(env, "status")["services"]]
    assert sorted(names) == sorted([*SERVICES, "invoices"])
    start_daemon(env, tmp_path, daemons)
    waited = as_json(env, "sync", "invoices", "--wait", "--timeout", "30")
    assert (waited["outcome"], waited["run"]["counts"]["fetched"]) == ("succeeded", 3)
    assert waited["run"]["mode_reason"] == "the invoices plugin always runs full"


def test_the_daemons_log_writes_instants_as_iso_8601() -> None:
    """A retry's `not_before` reads as a time, not as seconds since 1970."""
    from console.cli.render import render_event
    from core.models import Event, EventKind

    event = Event(
        id=1,
        at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        kind=EventKind.REQUEST_RETRY,
        service="orders",
        request_id=3,
        data={"attempt": 2, "not_before": datetime(2026, 12, 1, 9, 0, 30, tzinfo=UTC).timestamp()},
    )
    line = render_event(event)
    assert "not_before=" in line
    value = line.split("not_before=")[1].split()[0]
    assert datetime.fromisoformat(value) == datetime(2026, 12, 1, 9, 0, 30, tzinfo=UTC)
