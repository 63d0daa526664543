"""Input the command line refuses (inf, nan, absurd numbers) and stored values it survives.

Real subprocesses on a real store: a refusal is one line on stderr, exit code 2,
no traceback, and the store file byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
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
    assert orders["next_run"] is not None
    ok(env, "schedule", "orders", "--reset")
    assert "stored" not in ok(env, "status").stderr


def test_config_and_environment_refuse_non_finite_numbers(
    env: dict[str, str], data_dir: Path
) -> None:
    (data_dir / "syncdeck.toml").write_text(
        "[orchestrator]\nrun_timeout_s = inf\n[schedule]\nstagger_s = nan\n"
        "[services.orders]\ninterval_s = 1e308\n"
    )
    env = {**env, "SYNCDECK_SOURCE__TIMEOUT_S": "inf", "SYNCDECK_DEMO__SEED": "1" + "0" * 30}
    result = syncdeck(env, "status")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for line in (
        "orchestrator.run_timeout_s: must be a finite number, not inf",
        "schedule.stagger_s: must be a finite number, not nan",
        "services.orders.interval_s: must be less than or equal to 31622400",
        "source.timeout_s: must be a finite number, not inf",
        "demo.seed: must be less than or equal to",
    ):
        assert line in result.stderr, result.stderr
    assert not (data_dir / "syncdeck.db").exists()
