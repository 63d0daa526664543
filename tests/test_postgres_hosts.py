"""Several hosts, for real: three network namespaces, each with its own hostname and one
`syncdeck daemon`, sharing a PostgreSQL cluster the test starts on the root side of the
veth pairs; requests are sent from the root namespace with the CLI.

Shown from PostgreSQL's own tables: the runner SIGKILLed twice, then cut off (link down)
mid-run and reconnected after its lease expired, then stopped gracefully, then frozen
(SIGSTOP, through `support.frozen_daemon`'s hook) inside a write transaction: every
takeover within TTL + 2 s (1 s after a graceful stop, TTL + the idle-in-transaction timeout
+ 2 s after the freeze), no two runs overlapping, every request ended exactly once, and
the cut-off and the frozen runners record nothing after they came back.

Skips, saying why, where network namespaces or a cluster cannot be made.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from conftest import REPO
from support import frozen_daemon
from support.pgcluster import PgCluster, rows, running_cluster

TTL_S = 3.0
IDLE_TX_S = 2.0
"""[store] idle_in_transaction_timeout_s, below its default: the test shows that it applies."""
HOSTS = ["sdh1", "sdh2", "sdh3"]
PORT = 55439
SYNCDECK_BIN = str(REPO / ".venv" / "bin" / "syncdeck")
"""The CLI the requests are sent with; the daemons are `support.frozen_daemon`."""


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


def root_ip(i: int) -> str:
    return f"10.77.{i}.1"


def ns_ip(i: int) -> str:
    return f"10.77.{i}.2"


@pytest.fixture
def hosts() -> Iterator[None]:
    try:
        sh("ip", "netns", "add", "sdprobe")
        sh("ip", "netns", "del", "sdprobe")
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"network namespaces are not permitted here: {exc}")
    try:
        for i, ns in enumerate(HOSTS):
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", f"{ns}r", "type", "veth", "peer", "name", f"{ns}n")
            sh("ip", "link", "set", f"{ns}n", "netns", ns)
            sh("ip", "addr", "add", f"{root_ip(i)}/30", "dev", f"{ns}r")
            sh("ip", "link", "set", f"{ns}r", "up")
            sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ns_ip(i)}/30", "dev", f"{ns}n")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", f"{ns}n", "up")
            sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield
    finally:
        for ns in HOSTS:
            subprocess.run(["ip", "link", "del", f"{ns}r"], capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture
def cluster(hosts: None) -> Iterator[PgCluster]:
    listen = ",".join(["127.0.0.1", *(root_ip(i) for i in range(len(HOSTS)))])
    with running_cluster(PORT, listen) as pg:
        yield pg


def server_now(url: str) -> datetime:
    """The database server's clock: the one the lease's times are on."""
    [(now,)] = rows(url, "SELECT clock_timestamp()")
    assert isinstance(now, datetime)
    return now


def lease(url: str) -> tuple[str, int] | None:
    try:
        found = rows(url, "SELECT host, epoch FROM lease WHERE id = 1")
    except psycopg.Error:
        return None
    return (str(found[0][0]), int(found[0][1])) if found else None


def gave_up(log: str) -> bool:
    """The runner noticed its lease was gone: it stopped its sync, or its result was refused."""
    return "runner lease lost" in log or "lost its lease; not recorded" in log


def wait_for(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


def test_three_hosts_share_one_runner_through_kills_a_cut_and_a_stop(
    cluster: PgCluster, cli_env: dict[str, str], tmp_path: Any
) -> None:
    env = {
        **cli_env,
        "SYNCDECK_SCHEDULE__ENABLED": "false",
        "SYNCDECK_SIMULATION__RUN_SECONDS": "3",
        "SYNCDECK_ORCHESTRATOR__LEASE_TTL_S": str(TTL_S),
        "SYNCDECK_ORCHESTRATOR__HEARTBEAT_S": "0.5",
        "SYNCDECK_STORE__IDLE_IN_TRANSACTION_TIMEOUT_S": str(IDLE_TX_S),
    }
    url = cluster.url("syncdeck")
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(i: int) -> None:
        ns = HOSTS[i]
        ns_env = {**env, "SYNCDECK_STORE__URL": cluster.url("syncdeck", root_ip(i))}
        data = tmp_path / ns
        data.mkdir(exist_ok=True)
        ns_env["SYNCDECK_DATA_DIR"] = str(data)
        daemon = frozen_daemon.command("--freeze-in-tx", str(data / "freeze"))
        with (tmp_path / f"{ns}.log").open("ab") as out:
            procs[ns] = subprocess.Popen(
                ["ip", "netns", "exec", ns, "unshare", "--uts", "sh", "-c",
                 f'hostname {ns} && exec "$0" "$@"', *daemon],
                env=frozen_daemon.environ(ns_env), cwd=REPO, stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def request_all() -> None:
        for name in ("orders", "customers", "products", "prices"):
            sent = subprocess.run(
                [SYNCDECK_BIN, "sync", name],
                env={**env, "SYNCDECK_STORE__URL": url},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert sent.returncode == 0, sent.stdout + sent.stderr

    def running_holder() -> tuple[str, int]:
        def check() -> tuple[str, int] | None:
            held = lease(url)
            busy = rows(url, "SELECT count(*) FROM runs WHERE finished_at IS NULL")
            return held if held and busy[0][0] else None

        found: tuple[str, int] = wait_for("a running sync", check, 60)
        return found

    def taken_over(after_epoch: int, since: datetime, limit: float) -> float:
        """Seconds from `since` to the new lease's `acquired_at`, both on the server's
        clock, so the test's own polling does not count."""
        wait_for("a takeover", lambda: (lease(url) or ("", 0))[1] > after_epoch, limit + 30)
        [(acquired_at,)] = rows(url, "SELECT acquired_at FROM lease WHERE id = 1")
        took = float((acquired_at - since).total_seconds())
        print(f"takeover in {took:.2f} s (limit {limit:.2f} s)")
        assert took <= limit, f"takeover took {took:.2f} s, limit {limit:.2f} s"
        return took

    try:
        for i in range(len(HOSTS)):
            start(i)
        request_all()
        # SIGKILL the runner twice, mid-run
        for _ in range(2):
            host, epoch = running_holder()
            sent = server_now(url)
            procs[host].send_signal(signal.SIGKILL)
            procs[host].wait()
            taken_over(epoch, sent, TTL_S + 2)
            start(HOSTS.index(host))
            request_all()
        # cut the runner's link mid-run, reconnect after its lease expired
        host, epoch = running_holder()
        cut = HOSTS.index(host)
        sent = server_now(url)
        sh("ip", "link", "set", f"{host}r", "down")
        taken_over(epoch, sent, TTL_S + 2)
        time.sleep(0.5)  # the fault lasts past expiry, so the cut-off runner's lease is gone
        sh("ip", "link", "set", f"{host}r", "up")
        wait_for(
            "the cut-off runner to stop its sync",
            lambda: gave_up((tmp_path / f"{HOSTS[cut]}.log").read_text()),
            TTL_S + 10,
        )
        request_all()
        # graceful stop
        host, epoch = running_holder()
        sent = server_now(url)
        procs[host].send_signal(signal.SIGTERM)
        taken_over(epoch, sent, 1.0)
        procs[host].wait(timeout=30)

        # the runner freezes (SIGSTOP) inside a write transaction; the server aborts it
        request_all()
        host, epoch = running_holder()
        frozen = procs[host]
        sent = server_now(url)
        (tmp_path / host / "freeze").touch()
        wait_for("the freeze", lambda: not (tmp_path / host / "freeze").exists(), 10)
        taken_over(epoch, sent, TTL_S + IDLE_TX_S + 2)  # the server ends the frozen session
        [(taken_at,)] = rows(url, "SELECT acquired_at FROM lease")
        frozen.send_signal(signal.SIGCONT)
        wait_for(
            "the frozen runner to give up",
            lambda: gave_up((tmp_path / f"{host}.log").read_text()),
            TTL_S + 10,
        )

        wait_for(
            "the queue to drain",
            lambda: (
                rows(url, "SELECT count(*) FROM requests WHERE state IN ('queued', 'running')")[0][
                    0
                ]
                == 0
            ),
            90,
        )
        runs = rows(url, "SELECT id, request_id, started_at, finished_at, epoch FROM runs")
        spans = sorted((r[2], r[3]) for r in runs)
        for (_, end), (start_at, _) in itertools.pairwise(spans):
            assert end is not None and end <= start_at, spans
        requests = rows(url, "SELECT id, state, finished_at FROM requests")
        assert all(r[2] is not None for r in requests), requests
        per_request = rows(
            url,
            "SELECT request_id, count(*) FROM runs WHERE outcome <> 'interrupted' "
            "GROUP BY request_id HAVING count(*) > 1",
        )
        assert per_request == [], per_request
        stale = rows(
            url,
            "SELECT id FROM runs WHERE epoch = %s AND outcome <> 'interrupted' "
            "AND (finished_at IS NULL OR finished_at >= %s)",
            epoch,
            taken_at,
        )
        assert stale == [], stale  # the frozen runner recorded nothing under its epoch
        # the cut-off runner's writes after it came back were refused: no run of its epoch
        # was finished after a newer epoch had started
        late = rows(
            url,
            "SELECT a.id FROM runs a JOIN runs b ON b.epoch > a.epoch "
            "WHERE a.finished_at > b.started_at AND a.outcome <> 'interrupted'",
        )
        assert late == [], late
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
