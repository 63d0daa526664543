"""Webhook notifications from real `syncdeck daemon` processes to a real HTTP receiver.

The daemons run simulated services that fail (`failure_rate = 1`); the receiver
(`support.receiver`) listens on 127.0.0.1 in this process and records each body.
What is asserted is what a webhook's owner and an operator see: how many
notifications arrived and what they say, how long a sync took while the webhook
hung, the daemon's log lines and exit codes.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, SYNCDECK
from support.procs import Daemons, cli, runner_pid, stop, wait_until
from support.receiver import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

TOKEN = "T0KEN-b1d9c0ffee-s3cret"
QUIET_S = 2.0
"""After the expected notifications: long enough for a second one, were it to come."""


def failing_env(cli_env: dict[str, str], webhooks: list[dict[str, object]]) -> dict[str, str]:
    return {
        **cli_env,
        "SYNCDECK_SCHEDULE__ENABLED": "false",
        "SYNCDECK_SIMULATION__RUN_SECONDS": "0.2",
        "SYNCDECK_SIMULATION__FAILURE_RATE": "1",
        "SYNCDECK_ORCHESTRATOR__HEARTBEAT_S": "0.5",
        "SYNCDECK_ORCHESTRATOR__LEASE_TTL_S": "3",
        "SYNCDECK_NOTIFY__WEBHOOKS": json.dumps(webhooks),
    }


@pytest.fixture
def fleet(cli_env: dict[str, str], tmp_path: Path) -> Iterator[Daemons]:
    daemons = Daemons(cli_env, tmp_path)
    yield daemons
    daemons.close()


def started(fleet: Daemons, env: dict[str, str], *, count: int = 1) -> None:
    """`count` daemons on `env`, the first holding the lease."""
    fleet.env = env
    first = fleet.start()
    wait_until(lambda: runner_pid(Path(env["SYNCDECK_DATA_DIR"])) == first.pid, 20, "the lease")
    for _ in range(count - 1):
        fleet.start()


def log_of(fleet: Daemons, index: int = 0) -> str:
    return (fleet.logs / f"daemon-{index}.log").read_text(errors="replace")


@pytest.mark.parametrize("fmt", ["json", "slack"])
def test_a_request_that_failed_for_good_is_notified_once_by_the_runner_alone(
    cli_env: dict[str, str], tmp_path: Path, fleet: Daemons, fmt: str
) -> None:
    """Two tries (the first is retried: no notification), two daemons (the standby relays
    the runner's events and sends nothing): exactly one notification, with the service and
    the error."""
    with Receiver("ok") as receiver:
        url_file = tmp_path / "alerts.url"
        url_file.write_text(receiver.url(TOKEN) + "\n")
        env = failing_env(cli_env, [{"url_file": str(url_file), "format": fmt}])
        env["SYNCDECK_ORCHESTRATOR__RETRY__TRIES"] = "2"
        env["SYNCDECK_ORCHESTRATOR__RETRY__BACKOFF_S"] = "[0.2]"
        started(fleet, env, count=2)
        result = cli(env, "sync", "orders", "--wait", "--timeout", "60")
        assert result.returncode == 1, result.stdout + result.stderr
        [notice] = receiver.wait_for(1, what="for the failure")
        time.sleep(QUIET_S)
        assert len(receiver.hits) == 1, receiver.bodies
        assert receiver.hits[0].path == f"/hooks/{TOKEN}"
    text = notice["text"]
    assert "orders sync failed, no retry left: orders: simulated ERP timeout" in text
    if fmt == "json":
        assert notice["kind"] == "run.failed" and notice["service"] == "orders"
        assert notice["data"]["error"] == "orders: simulated ERP timeout"
        assert notice["data"]["outcome"] == "failed"
        assert notice["holder"].split(":")[1] == str(fleet.procs[0].pid)  # the runner's
    else:
        assert set(notice) == {"text"} and text.startswith("syncdeck on ")
    for index in range(2):
        assert TOKEN not in log_of(fleet, index)


def test_a_hanging_webhook_delays_no_sync_and_stopping_waits_for_it_a_bounded_time(
    cli_env: dict[str, str], fleet: Daemons
) -> None:
    with Receiver("hang") as receiver:
        env = failing_env(cli_env, [{"url": receiver.url(TOKEN), "timeout_s": 60}])
        env["SYNCDECK_ORCHESTRATOR__RETRY__TRIES"] = "1"
        started(fleet, env)
        assert cli(env, "sync", "orders", "--wait").returncode == 1
        receiver.wait_for(1, what="for the first failure")  # ... which the webhook holds

        began = time.monotonic()
        result = cli(env, "sync", "prices", "--wait", "--json")
        took = time.monotonic() - began
        assert result.returncode == 1, result.stdout + result.stderr
        run = json.loads(result.stdout)["run"]
        assert run["duration_s"] < 2.0, run  # the run itself: its 0.2 s and some
        assert took < 8.0, f"`sync --wait` took {took:.1f}s while the webhook hung"
        assert len(receiver.hits) == 1  # the second notification still waits its turn

        began = time.monotonic()
        assert stop(fleet.procs[0]) == 0
        assert time.monotonic() - began < 10.0
    log = log_of(fleet)
    assert "webhook notify.webhooks[0] (json): 2 notifications not sent (stopping)" in log, log
    assert TOKEN not in log


def test_a_webhook_answering_500_is_tried_3_times_then_given_up_in_one_line(
    cli_env: dict[str, str], fleet: Daemons
) -> None:
    """With `--verbose` (httpx logs its requests then) the URL and its token still never
    show; a webhook that refuses connections is given up the same way."""
    closed = Receiver("ok")
    refused_url = closed.url(TOKEN + "-refused")
    closed.close()
    with Receiver("fail") as receiver:
        webhooks: list[dict[str, object]] = [
            {"url": receiver.url(TOKEN), "format": "slack"},
            {"url": refused_url, "tries": 2},
        ]
        env = failing_env(cli_env, webhooks)
        env["SYNCDECK_ORCHESTRATOR__RETRY__TRIES"] = "1"
        fleet.env = env
        log = fleet.logs / "daemon-0.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*SYNCDECK, "--verbose", "daemon"], env=env, cwd=REPO, stdout=out, stderr=out
            )
        fleet.procs.append(proc)
        data_dir = Path(env["SYNCDECK_DATA_DIR"])
        wait_until(lambda: runner_pid(data_dir) == proc.pid, 20, "the lease", fleet.tails)
        assert cli(env, "sync", "orders", "--wait").returncode == 1
        receiver.wait_for(3, what="tries")
        wait_until(lambda: log.read_text().count("given up") >= 2, 20, "two lines", fleet.tails)
        time.sleep(QUIET_S)
        assert len(receiver.hits) == 3
        assert stop(proc) == 0
    text = log.read_text(errors="replace")
    given_up = sorted(
        line.split(" core.notify: ")[-1] for line in text.splitlines() if "given up" in line
    )
    assert given_up == [
        "webhook notify.webhooks[0] (slack): notification given up after 3 tries (HTTP 500)",
        "webhook notify.webhooks[1] (json): notification given up after 2 tries "
        "(ConnectError: All connection attempts failed)",
    ], given_up
    assert "HTTP Request: POST ***" in text  # the control: httpx did log its requests
    assert TOKEN not in text and "/hooks/" not in text


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('format = "slack"', "notify.webhooks[0]: give exactly one of url and url_file"),
        (
            'url = "https://hooks.example/T0KEN"\nurl_file = "/etc/alerts.url"',
            "notify.webhooks[0]: give exactly one of url and url_file",
        ),
        (
            'url = "https://hooks.example/T0KEN"\nformat = "teams"',
            "notify.webhooks[0].format: Invalid enum value 'teams'; choose one of: json, slack",
        ),
        ('url_file = "NOWHERE"', "notify.webhooks[0].url_file "),
        ('url_file = "NOT_A_URL"', "notify.webhooks[0].url_file "),
    ],
    ids=["no url", "url and url_file", "unknown format", "no url file", "no url in the file"],
)
def test_a_bad_webhook_table_exits_2_with_one_line_naming_the_key(
    cli_env: dict[str, str], data_dir: Path, tmp_path: Path, table: str, key: str
) -> None:
    not_a_url = tmp_path / "not-a-url"
    not_a_url.write_text("hooks.example/T0KEN\n")
    table = table.replace("NOWHERE", str(tmp_path / "nowhere")).replace("NOT_A_URL", str(not_a_url))
    (data_dir / "syncdeck.toml").write_text(f"[[notify.webhooks]]\n{table}\n")
    result = subprocess.run(
        [*SYNCDECK, "daemon"], env=cli_env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "T0KEN" not in result.stderr
    named = [line for line in result.stderr.splitlines() if "notify.webhooks" in line]
    assert len(named) == 1 and key in named[0], result.stderr


def test_a_full_disk_is_notified_once_and_its_end_once(
    cli_env: dict[str, str], small_disk: Path, fleet: Daemons
) -> None:
    filler = small_disk / "filler"
    with Receiver("ok") as receiver:
        env = failing_env({**cli_env, "SYNCDECK_DATA_DIR": str(small_disk)}, [])
        env["SYNCDECK_NOTIFY__WEBHOOKS"] = json.dumps([{"url": receiver.url(TOKEN)}])
        try:
            started(fleet, env)
            subprocess.run(
                ["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True, check=False
            )
            [unwritable] = receiver.wait_for(1, what="for the full disk")
            time.sleep(QUIET_S)  # heartbeats keep failing: no second notification
            assert len(receiver.hits) == 1
            filler.unlink()
            bodies = receiver.wait_for(2, what="for the disk's space back")
            time.sleep(QUIET_S)
            assert [b["kind"] for b in receiver.bodies] == ["store.unwritable", "store.usable"]
        finally:
            with contextlib.suppress(FileNotFoundError):
                filler.unlink()
    assert unwritable["service"] is None
    assert "the store refuses writes" in unwritable["text"], unwritable
    assert bodies[1]["text"].startswith("the store takes writes again (it was: store ")
    assert TOKEN not in log_of(fleet)


def test_a_stalled_run_is_notified_once_by_the_runner(
    cli_env: dict[str, str], fleet: Daemons
) -> None:
    """The demo ERP hangs after two pages: one `run.stalled`, however many heartbeats
    find the run still stalled (the standby daemon sends nothing)."""
    with Receiver("ok") as receiver:
        env = {
            **failing_env(cli_env, [{"url": receiver.url(TOKEN), "format": "json"}]),
            "SYNCDECK_SOURCE__KIND": "demo",
            "SYNCDECK_DEMO__SIZES__ORDERS": "20000",
            "SYNCDECK_DEMO__CHANGES_PER_MINUTE": "0",
            "SYNCDECK_DEMO__FAULTS__HANG_AFTER_PAGES": "2",
            # Longer than the first page takes on a slow machine: a run with no progress
            # yet for stall_s is stalled too, and once it moves a second notice is right.
            "SYNCDECK_ORCHESTRATOR__STALL_S": "3",
        }
        started(fleet, env, count=2)
        request = json.loads(cli(env, "sync", "orders", "--mode", "full", "--json").stdout)
        [notice] = receiver.wait_for(1, what="for the stall")
        time.sleep(QUIET_S)  # four heartbeats more, the run still stalled
        assert len(receiver.hits) == 1, receiver.bodies
        assert cli(env, "cancel", str(request["id"])).returncode == 0
    assert notice["kind"] == "run.stalled" and notice["service"] == "orders", notice
    assert notice["text"].startswith("orders sync stalled: no progress for "), notice
    assert notice["data"]["request_id"] == request["id"] and notice["data"]["done"] > 0
    assert notice["holder"].split(":")[1] == str(fleet.procs[0].pid)  # the runner's
    assert "run.stalled orders#" in log_of(fleet, 0)  # the daemon's log says it too
