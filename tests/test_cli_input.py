"""Input the command line refuses (inf, nan, absurd numbers) and stored values it survives.

Real subprocesses on a real store: a refusal is one line on stderr, exit code 2,
no traceback, and the store file byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, SYNCDECK
from test_cli import as_json, ok, syncdeck, usage_errors


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, "SYNCDECK_SCHEDULE__ENABLED": "false"}


def db_digest(data_dir: Path) -> str:
    return hashlib.sha256((data_dir / "syncdeck.db").read_bytes()).hexdigest()


REFUSED = [
    ["schedule", "orders", "--interval", "inf"],
    ["schedule", "orders", "--interval", "1e308"],
    ["schedule", "orders", "--interval", "nan"],
    ["schedule", "orders", "--interval", "-1"],
    ["schedule", "orders", "--interval", "0"],
    ["schedule", "orders", "--offset", "inf"],
    ["schedule", "orders", "--offset", "-1"],
    ["schedule", "orders", "--offset", "nan"],
    ["sync", "orders", "--wait", "--timeout", "-1"],
    ["sync", "orders", "--wait", "--timeout", "nan"],
    ["sync", "orders", "--wait", "--timeout", "inf"],
    ["sync", "orders", "--timeout", "5"],
    ["history", "--limit", "99999999999999999999"],
    ["history", "--limit", "0"],
    ["cancel", "99999999999999999999"],
    ["priority", "orders", "101"],
    ["priority", "orders", "-1"],
    ["priority", "orders", "50", "--request", "99999999999999999999"],
    ["sync", "orders", "--priority", "1e3"],
    ["demo-erp", "serve", "--port", "99999"],
    ["demo-erp", "serve", "--port", "-1"],
]


def test_non_finite_and_absurd_numbers_are_refused_and_nothing_is_stored(
    env: dict[str, str], data_dir: Path
) -> None:
    ok(env, "resume")  # a store to compare against
    before = db_digest(data_dir)
    errors = usage_errors(env, *REFUSED)
    for args, stderr in zip(REFUSED, errors, strict=True):
        assert len(stderr.strip().splitlines()) == 1, (args, stderr)
        assert "see `syncdeck" in stderr, (args, stderr)
    assert "not inf" in errors[0] and "not 1e308" in errors[1] and "not nan" in errors[2]
    assert "at least 0.1 s and at most 366 days" in errors[0]  # a limit as a person reads it
    assert "--timeout needs --wait" in errors[11]
    assert "between 0 and 65535" in errors[-1]
    assert db_digest(data_dir) == before
    status = as_json(env, "status")
    orders = next(s for s in status["services"] if s["name"] == "orders")
    assert (orders["interval_s"], orders["offset_s"]) == (1800, 0)
    assert status["queue"] == []


@pytest.mark.parametrize(
    ("column", "value"),
    [("interval_s", "1e308"), ("interval_s", "9e999"), ("offset_s", "'soon'"), ("offset_s", "-5")],
)
def test_an_invalid_stored_override_is_reported_and_the_configured_value_used(
    env: dict[str, str], data_dir: Path, column: str, value: str
) -> None:
    """A hand edit or an older syncdeck: `status` and `schedule` still work, and say how to
    reset it (`inf` is what `--interval inf` used to save)."""
    ok(env, "resume")
    with sqlite3.connect(data_dir / "syncdeck.db") as conn:
        conn.execute(f"UPDATE services SET {column} = {value} WHERE name = 'orders'")
    conn.close()
    env = {**env, "SYNCDECK_SCHEDULE__ENABLED": "true"}
    for args in (["status"], ["status", "--json"], ["schedule", "orders", "--enable"]):
        result = ok(env, *args)
        assert "Traceback" not in result.stderr
        assert f"stored {column}" in result.stderr, result.stderr
        assert "syncdeck schedule orders --reset" in result.stderr
    orders = next(s for s in as_json(env, "status")["services"] if s["name"] == "orders")
    assert (orders["interval_s"], orders["offset_s"]) == (1800, 0)
    assert orders["next_run"] is None  # no runner alive: nothing ticks, nothing is promised
    ok(env, "schedule", "orders", "--reset")
    assert "stored" not in ok(env, "status").stderr


def test_config_and_environment_refuse_non_finite_numbers(
    env: dict[str, str], data_dir: Path
) -> None:
    (data_dir / "syncdeck.toml").write_text(
        "[orchestrator]\nrun_timeout_s = inf\n[schedule]\nstagger_s = nan\n"
        "[services.orders]\ninterval_s = 1e308\n"
    )
    env = {
        **env,
        "SYNCDECK_SOURCE__TIMEOUT_S": "inf",
        "SYNCDECK_DEMO__SEED": "1" + "0" * 30,
        "SYNCDECK_STORE__IDLE_IN_TRANSACTION_TIMEOUT_S": "nan",
        "SYNCDECK_STORE__CONNECT_TIMEOUT_S": "0",
    }
    result = syncdeck(env, "status")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for line in (
        "orchestrator.run_timeout_s: must be a finite number, not inf",
        "schedule.stagger_s: must be a finite number, not nan",
        "services.orders.interval_s: must be less than or equal to 366 days",
        "source.timeout_s: must be a finite number, not inf",
        "demo.seed: must be less than or equal to",
        "store.idle_in_transaction_timeout_s: must be a finite number, not nan",
        "store.connect_timeout_s: must be greater than or equal to 0.1",
    ):
        assert line in result.stderr, result.stderr
    assert not (data_dir / "syncdeck.db").exists()


# -- --data-dir: never changes what exists, reading creates nothing --------------------------


def test_data_dir_mode_is_left_alone_and_new_ones_are_private(
    env: dict[str, str], tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    ok(env, "--data-dir", str(shared), "resume")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE((shared / "syncdeck.db").stat().st_mode) == 0o600
    ok(env, "--data-dir", str(shared), "status")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    fresh = tmp_path / "new" / "dir"
    ok(env, "--data-dir", str(fresh), "resume")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700


def test_reading_commands_never_create_a_store(env: dict[str, str], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "missing"
    env = {**env, "SYNCDECK_SOURCE__KIND": "demo"}  # verify needs a real source
    for where in (empty, missing):
        arglists = [
            ["--data-dir", str(where), *args]
            for args in (["status"], ["status", "--json"], ["history"], ["verify"])
        ]
        arglists.append(["--data-dir", str(where), "--read-only"])
        for stderr in usage_errors(env, *arglists):
            assert stderr.strip().startswith(f"syncdeck: no syncdeck store in {where}"), stderr
            assert len(stderr.strip().splitlines()) == 1
    assert list(empty.iterdir()) == []
    assert not missing.exists()


# -- the schedule's timeline and the stagger ---------------------------------------------------


def test_schedule_prints_the_timeline_with_gaps_and_says_when_the_stagger_cannot_hold(
    env: dict[str, str], tmp_path: Path
) -> None:
    usage_errors(env, ["schedule"], ["schedule", "--offset", "5"])  # no store yet; no service
    ok(env, "resume")
    env = {**env, "SYNCDECK_SCHEDULE__ENABLED": "true"}
    text = ok(env, "schedule").stdout
    assert "period 3600s, 7 fires; smallest gap 450.00s (wanted: 900s)" in text
    assert "cannot keep syncs 900s apart" in text and "the closest are 450s apart" in text
    doc = as_json(env, "schedule")
    assert (doc["period_s"], doc["fires_per_period"], doc["smallest_gap_s"]) == (3600, 7, 450)
    assert doc["stagger_holds"] is False and doc["truncated"] is False
    timeline = doc["timeline"]
    assert len(timeline) == 7 and len({f["at"] for f in timeline}) == 7
    assert sorted(f["service"] for f in timeline).count("prices") == 1
    assert all(f["gap_s"] >= 450 for f in timeline[1:])
    assert [s["offset_s"] for s in doc["services"]] == [0, 450, 900, 1350]

    held = as_json({**env, "SYNCDECK_SCHEDULE__STAGGER_S": "300"}, "schedule")
    assert held["stagger_holds"] is True and held["note"] is None

    # the daemon says it at start, once
    err = tmp_path / "daemon.err"
    with err.open("w") as stderr:
        daemon = subprocess.Popen(
            [*SYNCDECK, "daemon"], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 20
        while "cannot keep syncs" not in err.read_text():
            assert daemon.poll() is None, err.read_text()
            assert time.monotonic() < deadline, err.read_text()
            time.sleep(0.05)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=15)
    assert err.read_text().count("cannot keep syncs") == 1
    assert "the closest are 450s apart" in err.read_text()


CORRUPT_LINE = "is damaged or is not a syncdeck store"


def corrupt_store(data_dir: Path) -> str:
    """Random bytes where the store should be, as a bad disk or a stray file leaves it."""
    path = data_dir / "syncdeck.db"
    path.write_bytes(hashlib.sha256(b"seed").digest() * 6250)  # 200,000 bytes, no header
    return db_digest(data_dir)


def test_a_corrupt_store_is_one_line_and_exit_2_for_every_command(
    env: dict[str, str], data_dir: Path
) -> None:
    before = corrupt_store(data_dir)
    demo = {**env, "SYNCDECK_SOURCE__KIND": "demo"}
    commands = [
        ["status"],
        ["status", "--json"],
        ["history"],
        ["sync", "orders"],
        ["cancel", "1"],
        ["pause"],
        ["schedule"],
        ["daemon"],
    ]
    for args in commands:
        done = syncdeck(env, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and CORRUPT_LINE in done.stderr, (args, done.stderr)
        assert str(data_dir / "syncdeck.db") in done.stderr and "Traceback" not in done.stderr
    done = syncdeck(demo, "verify")
    assert done.returncode == 2 and CORRUPT_LINE in done.stderr, done.stderr
    assert db_digest(data_dir) == before
    assert not [p.name for p in data_dir.iterdir() if p.name.startswith("syncdeck.db-")]
