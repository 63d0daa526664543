"""The Prometheus alert rules shipped beside the metrics (docs/alerts.yml): promtool finds
them valid, each fires on the series it is written for (promtool's own rule tests), and
every metric they name is one a real `syncdeck serve` exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO
from support.api import READ, ApiServer, api_env, token

RULES = REPO / "docs" / "alerts.yml"
PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian's prometheus)")

SERIES = {
    'syncdeck_service_health{service="orders"}': "2x20",
    "syncdeck_runner_alive": "0x20",
    "syncdeck_queue_depth": "3x40",
    "syncdeck_running": "0x40",
    'syncdeck_runs_total{service="orders",outcome="succeeded"}': "5x40",
    "syncdeck_progress_age_seconds": "400x20",
    "syncdeck_store_unwritable": "1x20",
}
"""A service unhealthy, no runner, a queue that does not move, a silent run and a store
that refuses writes, all at once."""
FIRES = {
    "SyncdeckServiceUnhealthy": (15, {"service": "orders"}),
    "SyncdeckNoRunner": (15, {}),
    "SyncdeckQueueStuck": (45, {}),
    "SyncdeckRunStalled": (5, {}),
    "SyncdeckStoreUnwritable": (5, {}),
}
"""Each alert, when it must be firing (minutes), and its labels beyond its severity."""


def cases(rules: dict[str, Any]) -> dict[str, Any]:
    """promtool's rule tests: each alert of FIRES fires, with its labels and annotations
    (`{{ $labels.service }}` filled in as Prometheus does)."""
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    expected = []
    for name, (minute, labels) in FIRES.items():
        rule = alerts[name]
        notes = {
            key: text.replace("{{ $labels.service }}", labels.get("service", ""))
            for key, text in rule["annotations"].items()
        }
        expected.append(
            {
                "eval_time": f"{minute}m",
                "alertname": name,
                "exp_alerts": [
                    {"exp_labels": {**rule["labels"], **labels}, "exp_annotations": notes}
                ],
            }
        )
    series = [{"series": s, "values": v} for s, v in SERIES.items()]
    return {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": expected}],
    }


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)


def test_the_rules_are_valid_and_each_fires_on_its_series(tmp_path: Path) -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tests = tmp_path / "cases.yml"
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    tests.write_text(yaml.safe_dump(cases(rules)), encoding="utf-8")
    tested = promtool("test", "rules", str(tests))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_metric_the_rules_name_is_exported(data_dir: Path, tmp_path: Path) -> None:
    named = set(re.findall(r"\bsyncdeck_[a-z_]+", RULES.read_text(encoding="utf-8")))
    server = ApiServer(api_env(data_dir), tmp_path)
    try:
        metrics = server.request("GET", "/metrics", token(READ)).text
    finally:
        server.stop()
    exported = set(re.findall(r"^# TYPE (syncdeck_[a-z_]+)", metrics, re.M))
    # The progress age exists only while a sync runs; the rest always.
    assert named - exported == {"syncdeck_progress_age_seconds"}, metrics
