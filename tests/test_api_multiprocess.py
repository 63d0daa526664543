"""Two `syncdeck serve` processes and a daemon on one store: requests from both APIs, one
sync at a time overall, and `/metrics` from either process telling the same story as
`history --json` (the numbers come from the store, not from a process's memory)."""

from __future__ import annotations

import itertools
import json
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SYNCDECK
from prometheus_client.parser import text_string_to_metric_families
from support.api import OPERATE, READ, SERVICES, ApiServer, api_env, cli, token
from support.procs import wait_until

pytestmark = pytest.mark.slow


def metrics(server: ApiServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = server.request("GET", "/metrics", token(READ))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def by(samples: dict[Any, float], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def assert_no_overlap(runs: list[dict[str, Any]]) -> None:
    spans = sorted((at(r["started_at"]), at(r["finished_at"]), r["id"]) for r in runs)
    for (_, end, a), (start, _, b) in itertools.pairwise(spans):
        assert end <= start, f"runs #{a} and #{b} overlap"


def test_two_apis_and_a_daemon_run_one_sync_at_a_time(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    env = api_env(tmp_path / "data")
    with (tmp_path / "daemon.err").open("w") as err:
        daemon = subprocess.Popen(
            [*SYNCDECK, "daemon"], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err
        )
    servers: list[ApiServer] = []
    try:
        wait_until(
            lambda: "syncdeck daemon" in (tmp_path / "daemon.err").read_text(),
            30,
            "the daemon to start",
            lambda: (tmp_path / "daemon.err").read_text(),
        )
        servers = [ApiServer(env, tmp_path, name=f"serve{n}") for n in (1, 2)]

        def ask(n: int) -> int:
            server = servers[n % 2]
            service = SERVICES[n % len(SERVICES)]
            mode = ["full", "incremental", "auto"][n % 3]
            answer = server.request("POST", f"/api/sync/{service}/{mode}", token(OPERATE))
            assert answer.status_code == 202, answer.text
            request_id: int = answer.json()["data"]["request"]["id"]
            return request_id

        with ThreadPoolExecutor(4) as pool:
            ids = set(pool.map(ask, range(16)))

        def drained() -> bool:
            data = servers[0].request("GET", "/api/sync/status", token(READ)).json()["data"]
            if data["queue"] or data["active"] is not None:
                return False
            states = [
                servers[1].request("GET", f"/api/requests/{i}", token(READ)).json()["data"]
                for i in ids
            ]
            return all(s["request"]["state"] == "finished" for s in states)

        wait_until(drained, 60, "every request to finish", servers[0].log)
        history = json.loads(cli(env, "history", "--json", "--limit", "1000").stdout)
        assert history and all(run["outcome"] == "succeeded" for run in history)
        assert_no_overlap(history)
        assert {run["request_id"] for run in history} == ids

        runs = Counter((r["service"], r["outcome"]) for r in history)
        rows: Counter[tuple[str, str]] = Counter()
        for run in history:
            for kind, count in run["counts"].items():
                rows[(run["service"], kind)] += count
        first, second = metrics(servers[0]), metrics(servers[1])
        for samples in (first, second):
            assert by(samples, "syncdeck_runs_total") == {
                (("outcome", outcome), ("service", service)): float(count)
                for (service, outcome), count in runs.items()
            }
            assert by(samples, "syncdeck_rows_synced_total") == {
                (("kind", kind), ("service", service)): float(count)
                for (service, kind), count in rows.items()
            }
            for service in {r["service"] for r in history}:
                key = ("syncdeck_run_duration_seconds_count", (("service", service),))
                assert samples[key] == sum(n for (s, _), n in runs.items() if s == service)
            waits = samples[("syncdeck_queue_wait_seconds_count", ())]
            assert waits == len({r["request_id"] for r in history if r["attempt"] == 1})
            assert samples[("syncdeck_queue_depth", ())] == 0
            assert samples[("syncdeck_running", ())] == 0
            assert samples[("syncdeck_lease_epoch", ())] >= 1
            assert samples[("syncdeck_runner_alive", ())] == 1
        assert {k: v for k, v in first.items() if k[0] != "syncdeck_is_runner"} == {
            k: v for k, v in second.items() if k[0] != "syncdeck_is_runner"
        }
        runners = [first[("syncdeck_is_runner", ())], second[("syncdeck_is_runner", ())]]
        holders = {run["holder"] for run in history}
        assert len(holders) >= 1 and sum(runners) <= 1
    finally:
        codes = [server.stop() for server in servers]
        daemon.terminate()
        daemon.wait(timeout=20)
    assert codes == [0] * len(servers), [s.log() for s in servers]
    assert daemon.returncode == 0
