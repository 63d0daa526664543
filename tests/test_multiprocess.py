"""Real processes on one data directory: runner failover and crash recovery.

Every process here is the real `syncdeck` command (`python -m console`): daemons
share one SQLite store, requests come from separate `syncdeck sync` processes, and
runners die by SIGKILL, so nothing gets a chance to clean up after itself. The
store is read back through a read-only SQLite connection (and, as a cross-check,
through `syncdeck status --json` and `syncdeck history --json`).

Both tests use the default runner lease, 10 s (set explicitly so that the bound
asserted below and the daemons' configuration cannot drift apart): it is what
production runs with, and every daemon here runs on the same host as the runner
it replaces, so a dead runner is noticed from its pid long before the lease
expires; a shorter lease would only shorten the test when that detection is
broken. The bound asserted is the spec's: a new runner within lease expiry + 2 s
of each kill.
"""

from __future__ import annotations

import functools
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import REPO, SYNCDECK
from support.procs import Daemons, cli, cli_json, read_store, runner_pid, wait_until

T = TypeVar("T")

LEASE_TTL_S = 10.0
TAKEOVER_BOUND_S = LEASE_TTL_S + 2.0
"""A new runner must hold the lease at most this long after the runner was killed."""
RUN_SECONDS = 2.5
SERVICES = ("orders", "customers", "products", "prices")
TERMINAL = {"finished", "cancelled"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


# -- helpers ------------------------------------------------------------------


def _env(cli_env: dict[str, str]) -> dict[str, str]:
    return {
        **cli_env,
        "SYNCDECK_ORCHESTRATOR__LEASE_TTL_S": str(LEASE_TTL_S),
        "SYNCDECK_SIMULATION__RUN_SECONDS": str(RUN_SECONDS),
        "SYNCDECK_SCHEDULE__ENABLED": "false",
    }


@pytest.fixture
def daemons(cli_env: dict[str, str], tmp_path: Path) -> Iterator[Daemons]:
    fleet = Daemons(_env(cli_env), tmp_path)
    try:
        yield fleet
    finally:
        fleet.close()


def open_services(store: dict[str, list[dict[str, Any]]]) -> set[str]:
    return {r["service"] for r in store["requests"] if r["state"] in ("queued", "running")}


def takeover_after(store: dict[str, list[dict[str, Any]]], epoch: int) -> dict[str, Any] | None:
    return next((e for e in store["taken"] if e["data"]["epoch"] > epoch), None)


def taken_over(data_dir: Path, epoch: int) -> dict[str, Any] | None:
    """The first takeover past `epoch` that the store at `data_dir` records, if any."""
    return takeover_after(read_store(data_dir), epoch)


def quiet(store: dict[str, list[dict[str, Any]]]) -> bool:
    """No request queued or running and no run left open."""
    return not open_services(store) and all(r["outcome"] is not None for r in store["runs"])


def settled(data_dir: Path) -> dict[str, list[dict[str, Any]]] | None:
    store = read_store(data_dir)
    return store if quiet(store) else None


def assert_no_overlap(runs: list[dict[str, Any]]) -> None:
    for a in runs:
        for b in runs:
            if a["id"] < b["id"]:
                assert a["finished_at"] <= b["started_at"] or b["finished_at"] <= a["started_at"], (
                    f"runs #{a['id']} [{a['started_at']}, {a['finished_at']}] ({a['holder']}) "
                    f"and #{b['id']} [{b['started_at']}, {b['finished_at']}] ({b['holder']}) "
                    "overlap"
                )


def assert_fenced(store: dict[str, list[dict[str, Any]]]) -> None:
    """Epochs go up one at a time, and every run was started by the holder of its epoch."""
    epochs = [e["data"]["epoch"] for e in store["taken"]]
    assert epochs == list(range(1, len(epochs) + 1)), f"lease epochs {epochs}"
    holder_of = {e["data"]["epoch"]: e["data"]["holder"] for e in store["taken"]}
    for run in store["runs"]:
        assert holder_of.get(run["epoch"]) == run["holder"], (
            f"run #{run['id']} by {run['holder']} under epoch {run['epoch']}, "
            f"which was {holder_of.get(run['epoch'])}'s"
        )


# -- tests --------------------------------------------------------------------


def test_runner_failover_under_sigkill(daemons: Daemons, data_dir: Path) -> None:
    """Three daemons on one store; the runner is SIGKILLed mid-run (at least three times)
    and replaced, while `syncdeck sync` processes keep requesting.

    Lease: the default 10 s (see the module docstring); each takeover must come within
    lease expiry + 2 s of its kill, that is 12 s.
    """
    env = daemons.env
    mid_run_kills_wanted = 3
    max_kills = 7
    for _ in range(3):
        daemons.start()

    wait_until(lambda: runner_pid(data_dir) in daemons.alive(), 30, "a first runner", daemons.tails)

    # A client that waits on its request across the kills: it must see it succeed.
    waiter = subprocess.Popen(
        [*SYNCDECK, "sync", "orders", "--mode", "full", "--wait", "--timeout", "120", "--json"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: any(r["service"] == "orders" for r in read_store(data_dir)["requests"]),
            20,
            "the waiting client's request",
        )
        modes = iter(["incremental", "full", "auto"] * 20)
        priorities = iter([5, 1, 8, 3, 0, 6, 2] * 10)

        def request_free(limit: int) -> None:
            """Request services with no open request (so an interrupted request is never
            superseded by a queued one and must run again itself)."""
            busy = open_services(read_store(data_dir))
            for service in [s for s in SERVICES if s not in busy][:limit]:
                args = ["sync", service, "--mode", next(modes), "--priority", str(next(priorities))]
                doc = cli_json(env, *args)
                assert doc["state"] == "queued" and doc["service"] == service, doc

        kills: list[dict[str, Any]] = []
        while sum(k["mid_run"] for k in kills) < mid_run_kills_wanted:
            assert len(kills) < max_kills, f"only {kills} landed mid-run\n{daemons.tails()}"
            request_free(2)

            def open_run_to_kill() -> tuple[dict[str, Any], dict[str, Any]] | None:
                store = read_store(data_dir)
                now = time.time()
                if not any(r["state"] == "queued" for r in store["requests"]):
                    request_free(1)  # so that a run missed here is not the last one
                for run in store["runs"]:
                    age = now - run["started_at"]
                    if run["outcome"] is None and 0.3 <= age <= RUN_SECONDS - 1.0:
                        return run, store["lease"][0]
                return None

            run, lease = wait_until(open_run_to_kill, 30, "a run in progress", daemons.tails)
            assert lease["holder"] == run["holder"], f"run {run} is not the lease holder's {lease}"
            victim = daemons.alive().get(lease["pid"])
            assert victim is not None, f"lease held by {lease}, not one of our live daemons"
            killed_at = daemons.sigkill(victim)
            # The dead runner renews nothing: its lease expires when the row says, unless
            # a follower has already taken it over.
            now_lease = read_store(data_dir)["lease"][0]
            expires_at = now_lease["expires_at"] if now_lease["holder"] == lease["holder"] else None
            # A request while no runner is alive must be accepted and queued.
            request_free(1)
            daemons.start()
            taken = wait_until(
                functools.partial(taken_over, data_dir, lease["epoch"]),
                TAKEOVER_BOUND_S + 15,
                f"a runner after killing {lease['holder']}",
                daemons.tails,
            )
            # The spec's bound: a new runner within lease expiry + 2 s of the kill.
            assert taken["at"] - killed_at <= TAKEOVER_BOUND_S, (
                f"runner {lease['holder']} killed at {killed_at:.3f}; "
                f"next runner only at {taken['at']:.3f} ({taken['at'] - killed_at:.2f}s)"
            )
            after = next(r for r in read_store(data_dir)["runs"] if r["id"] == run["id"])
            # A run recorded as finished by its own runner before the kill was not open at it.
            mid_run = after["finished_at"] is None or after["finished_at"] >= killed_at
            kills.append(
                {
                    "holder": lease["holder"],
                    "epoch": lease["epoch"],
                    "expires_at": expires_at,
                    "killed_at": killed_at,
                    "run_id": run["id"],
                    "mid_run": mid_run,
                    "taken": taken,
                    "delay": taken["at"] - killed_at,
                }
            )

        final = wait_until(
            lambda: settled(data_dir),
            60,
            "every request to end",
            daemons.tails,
        )
        out, err = waiter.communicate(timeout=30)
    finally:
        if waiter.poll() is None:
            waiter.kill()
        waiter.wait(timeout=10)

    print("\ntakeover delays after SIGKILL (s):", [round(k["delay"], 3) for k in kills])

    # The waiting client saw its request through the failovers to success.
    assert waiter.returncode == 0, f"waiting client exited {waiter.returncode}: {err}"
    waited = json.loads(out)
    assert waited["state"] == "finished" and waited["outcome"] == "succeeded", waited
    assert waited["run"]["outcome"] == "succeeded", waited

    requests, runs = final["requests"], final["runs"]
    # Only our command-line requests exist, and every one ended, successfully.
    assert {r["source"] for r in requests} == {"cli"}, requests
    for request in requests:
        assert request["state"] in TERMINAL, request
        assert (request["state"], request["outcome"]) == ("finished", "succeeded"), request
    assert all(run["outcome"] is not None and run["finished_at"] is not None for run in runs)

    assert_no_overlap(runs)
    assert_fenced(final)
    # One takeover per kill and no other: no live runner ever lost its lease.
    assert len(final["taken"]) == 1 + len(kills), final["taken"]
    assert final["lost"] == [], final["lost"]

    runs_by_id = {run["id"]: run for run in runs}
    killed = {k["holder"]: k for k in kills}
    for kill in kills:
        taken = kill["taken"]
        assert taken["data"]["previous"] == kill["holder"], taken
        assert taken["data"]["holder"] not in killed or (
            killed[taken["data"]["holder"]]["killed_at"] > taken["at"]
        ), f"a killed runner took the lease afterwards: {taken}"
        if kill["expires_at"] is not None:
            assert taken["at"] <= kill["expires_at"] + 2.0, (kill, taken)
        # A dead runner records nothing: its runs ended before its death, or were
        # interrupted at the takeover.
        for run in runs:
            if run["holder"] != kill["holder"]:
                continue
            assert run["started_at"] <= kill["killed_at"], run
            if run["finished_at"] >= kill["killed_at"]:
                assert run["outcome"] == "interrupted", run
                assert run["finished_at"] <= taken["at"] + 0.001, (run, taken)

    mid_run_kills = [k for k in kills if k["mid_run"]]
    assert len(mid_run_kills) >= mid_run_kills_wanted, kills
    for kill in mid_run_kills:
        run = runs_by_id[kill["run_id"]]
        assert run["outcome"] == "interrupted", run
        assert run["error_class"] == "Interrupted", run
        # The interrupted request ran again, later, to success.
        again = [
            r
            for r in runs
            if r["request_id"] == run["request_id"]
            and r["id"] > run["id"]
            and r["started_at"] >= run["finished_at"]
        ]
        assert again and again[-1]["outcome"] == "succeeded", (run, again)

    # Interrupted runs come from kills only.
    interrupted = {r["id"] for r in runs if r["outcome"] == "interrupted"}
    assert interrupted == {k["run_id"] for k in mid_run_kills}, (interrupted, kills)

    # The command line tells the same story as the store.
    history = cli_json(env, "history", "--limit", "1000")
    assert {(h["id"], h["outcome"]) for h in history} == {(r["id"], r["outcome"]) for r in runs}
    status = cli_json(env, "status")
    assert status["queue"] == [] and status["active"] is None, status
    assert status["runner"] is not None and status["runner"]["pid"] in daemons.alive(), status


def test_sole_daemon_killed_and_restarted(daemons: Daemons, data_dir: Path) -> None:
    """One daemon, a finished run, queued requests (three, or two if the first run is missed)
    and one running; SIGKILL the only process mid-run, check what the crash left behind,
    restart the daemon, and check that it recovers everything.

    Lease: the default 10 s (see the module docstring).
    """
    env = daemons.env
    first = daemons.start()
    wait_until(
        lambda: runner_pid(data_dir) == first.pid,
        30,
        "the daemon to become the runner",
        daemons.tails,
    )
    done = cli(env, "sync", "prices", "--wait", "--timeout", "30", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "succeeded"

    assert cli(env, "pause").returncode == 0
    for service, mode, priority in [
        ("orders", "full", 9),
        ("customers", "incremental", 5),
        ("products", "auto", 3),
        ("prices", "full", 1),
    ]:
        doc = cli_json(env, "sync", service, "--mode", mode, "--priority", str(priority))
        assert doc["state"] == "queued", doc
    assert cli(env, "resume").returncode == 0

    def running_mid_run() -> dict[str, list[dict[str, Any]]] | None:
        store = read_store(data_dir)
        open_runs = [r for r in store["runs"] if r["outcome"] is None]
        queued = [r for r in store["requests"] if r["state"] == "queued"]
        if not open_runs or len(queued) < 2:
            return None
        age = time.time() - open_runs[0]["started_at"]
        return store if 0.5 <= age <= RUN_SECONDS - 1.0 else None

    before = wait_until(running_mid_run, 30, "a run with queued ones behind it", daemons.tails)
    killed_at = daemons.sigkill(first)
    (running,) = [r for r in before["requests"] if r["state"] == "running"]
    (open_run,) = [r for r in before["runs"] if r["outcome"] is None]
    assert open_run["request_id"] == running["id"]
    queued_ids = {r["id"] for r in before["requests"] if r["state"] == "queued"}
    history_before = [r for r in before["runs"] if r["outcome"] is not None]
    assert history_before and {r["outcome"] for r in history_before} == {"succeeded"}

    # With no process left, the crash left everything in place.
    crashed = read_store(data_dir)
    assert crashed["requests"] == before["requests"]
    assert crashed["runs"] == before["runs"]
    status = cli_json(env, "status")
    assert {q["id"] for q in status["queue"]} == queued_ids, status["queue"]
    assert status["active"]["id"] == running["id"], status["active"]
    assert status["active"]["run"]["id"] == open_run["id"], status["active"]
    history = cli_json(env, "history")
    assert [(h["id"], h["outcome"]) for h in history] == [
        (r["id"], r["outcome"]) for r in reversed(before["runs"])
    ]

    restarted_at = time.time()
    second = daemons.start()
    taken = wait_until(
        lambda: takeover_after(read_store(data_dir), before["lease"][0]["epoch"]),
        TAKEOVER_BOUND_S + 15,
        "the restarted daemon to take over",
        daemons.tails,
    )
    print(
        f"\nrestart: kill→takeover {taken['at'] - killed_at:.3f}s, "
        f"restart→takeover {taken['at'] - restarted_at:.3f}s"
    )
    assert taken["data"]["pid"] == second.pid, taken
    assert taken["data"]["previous"] == before["lease"][0]["holder"], taken
    assert taken["at"] - restarted_at <= TAKEOVER_BOUND_S, (restarted_at, taken)

    final = wait_until(
        lambda: settled(data_dir),
        60,
        "every request to end",
        daemons.tails,
    )
    requests = {r["id"]: r for r in final["requests"]}
    runs = final["runs"]
    # Nothing lost, nothing added; every request ended, successfully.
    assert set(requests) == {r["id"] for r in before["requests"]}
    for request in requests.values():
        assert request["state"] in TERMINAL, request
        assert (request["state"], request["outcome"]) == ("finished", "succeeded"), request
    # The history survived untouched.
    assert runs[: len(history_before)] == history_before

    interrupted = next(r for r in runs if r["id"] == open_run["id"])
    assert interrupted["outcome"] == "interrupted", interrupted
    assert interrupted["error_class"] == "Interrupted", interrupted
    assert killed_at <= interrupted["finished_at"] <= taken["at"] + 0.001, interrupted
    rerun = [r for r in runs if r["request_id"] == running["id"] and r["id"] != open_run["id"]]
    assert len(rerun) == 1 and rerun[0]["outcome"] == "succeeded", rerun
    assert rerun[0]["holder"] == taken["data"]["holder"], rerun
    assert rerun[0]["started_at"] >= interrupted["finished_at"], rerun
    # Each queued request ran exactly once, by the restarted daemon, and succeeded.
    for request_id in queued_ids:
        own = [r for r in runs if r["request_id"] == request_id]
        assert [r["outcome"] for r in own] == ["succeeded"], own
        assert own[0]["holder"] == taken["data"]["holder"], own
    assert_no_overlap(runs)
    assert_fenced(final)
    assert [e["data"]["holder"] for e in final["taken"]] == [
        before["lease"][0]["holder"],
        taken["data"]["holder"],
    ]
