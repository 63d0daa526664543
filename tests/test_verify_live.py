"""`syncdeck verify` against a live demo ERP: lag is pending, not drift; outages exit 3.

Real processes: a daemon runs full syncs of the four services from the demo
ERP, which keeps changing (its default 60 changes a minute); `verify` right
after must exit 0 and report what is pending. A source that cannot be reached
exits 3 with one line.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, SYNCDECK

SIZES = {"customers": 150, "products": 150, "prices": 150, "orders": 150}


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return {
        **cli_env,
        "SYNCDECK_SOURCE__KIND": "demo",
        "SYNCDECK_SCHEDULE__ENABLED": "false",
        **{f"SYNCDECK_DEMO__SIZES__{k.upper()}": str(v) for k, v in SIZES.items()},
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SYNCDECK, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_verify_right_after_full_syncs_exits_0_and_reports_pending(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert "SYNCDECK_DEMO__CHANGES_PER_MINUTE" not in env  # the default: a live ERP
    err = tmp_path / "daemon.err"
    with err.open("w") as stderr:
        daemon = subprocess.Popen(
            [*SYNCDECK, "daemon"], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        deadline = time.monotonic() + 30
        while "syncdeck daemon" not in err.read_text():
            assert daemon.poll() is None, err.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for name in SIZES:
            synced = run(env, "sync", name, "--mode", "full", "--wait", "--timeout", "60")
            assert synced.returncode == 0, synced.stdout + synced.stderr
        # The ERP changes about once a second: verify until it has seen some change (each
        # verify lets the ERP catch up first), and every one of them must pass.
        deadline = time.monotonic() + 30
        while True:
            verified = run(env, "verify", "--json")
            assert verified.returncode == 0, verified.stdout + verified.stderr
            reports = json.loads(verified.stdout)
            assert all(r["clean"] and r["missing"] == r["different"] == 0 for r in reports)
            lag = sum(r["pending"] + r["pending_deletion"] for r in reports)
            if lag:
                break
            assert time.monotonic() < deadline, reports
        pending = [r for r in reports if r["pending"]]
        for report in pending:
            assert report["pending_oldest"] >= report["cursor"]
            assert 0 <= report["pending_age_s"] < 120
        text = run(env, "verify")
        assert text.returncode == 0, text.stdout + text.stderr
        assert "DRIFT" not in text.stdout and "pending" in text.stdout
    finally:
        daemon.terminate()
        daemon.wait(timeout=15)


def test_verify_exits_3_in_one_line_when_the_source_cannot_be_reached(
    env: dict[str, str], data_dir: Path
) -> None:
    assert run(env, "resume").returncode == 0  # a store, with an empty replica
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **env,
        "SYNCDECK_SOURCE__KIND": "http",
        "SYNCDECK_SOURCE__URL": f"http://127.0.0.1:{port}",
        "SYNCDECK_SOURCE__TIMEOUT_S": "2",
    }
    result = run(env, "verify", "orders")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot read the source" in result.stderr and str(port) in result.stderr


def test_a_service_never_synced_is_not_in_sync(env: dict[str, str], data_dir: Path) -> None:
    """No run has moved its cursor: `verify` says so and exits 1, and the age of what is
    pending reads as a person reads it, not as seconds since 1970."""
    assert run(env, "resume").returncode == 0  # a store, with an empty replica
    result = run(env, "verify", "orders")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("orders     never synced"), result.stdout
    assert "in sync" not in result.stdout
    age = result.stdout.split("oldest changed ")[1].split(" ago")[0]
    assert re.fullmatch(r"\d+d(\d\dh)?|\d+h\d\dm|\d+m\d\ds|\d+s|\d+\.\ds", age), age
    doc = json.loads(run(env, "verify", "orders", "--json").stdout)
    assert doc[0]["never_synced"] is True
