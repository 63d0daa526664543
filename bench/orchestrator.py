"""Orchestrator benchmark: throughput, latency and idle cost, each beside its target.

Run from the repository root:

    .venv/bin/python bench/orchestrator.py           # full run (about a minute)
    .venv/bin/python bench/orchestrator.py --quick   # shorter windows, fewer samples

Every figure uses the real SQLite store: a file in a fresh temporary directory
(on whatever filesystem `tempfile` picks; printed in the header), WAL mode, the
same settings the daemon uses. Nothing is mocked except the services, which do
no work.

1. Durable no-op throughput. Four no-op services are registered with one runner
   orchestrator; each service's `run()` calls `orchestrator.request()` for itself
   and returns at once. A request may queue while its service's previous run is
   still running, so the queue never empties and every completed run goes through
   the whole durable pipeline: enqueue (a transaction) -> runner wake-up ->
   dispatch (store view, policy pick, resolve_mode) -> start_run (a transaction)
   -> run -> finish_run (a transaction) -> health refresh. After a warm-up, runs
   are counted over a fixed window from the store's own history (runs whose
   `finished_at` falls in the window and whose outcome is `succeeded`), so only
   durably recorded runs count. (`bench/postgres.py` runs the same measure on
   a PostgreSQL store.) The heartbeat, lease renewal and event-log
   pruning run as usual during the window.

   Beside it, the same process measures APScheduler 3 dispatching no-op
   coroutine jobs in memory (AsyncIOScheduler, MemoryJobStore, AsyncIOExecutor,
   no misfire grace): (a) a batch of jobs all due now, drained, timed from
   `start()` to the last EVENT_JOB_EXECUTED; (b) four chains of one-shot jobs in
   which each job adds the next, the shape of the durable measurement. This is
   the ceiling of a purely in-memory dispatcher on this machine, not a target.

2. In-process request-to-start latency: an idle runner orchestrator with one
   no-op service; a subscriber (`orchestrator.events()`) times `request()` being
   called -> the matching RUN_STARTED event arriving, with perf_counter. Each
   sample waits for the previous request to finish and then for a random 5-15 ms
   pause, so the runner is idle when the request arrives.

3. Cross-process request-to-start latency: a real `syncdeck daemon` subprocess
   (`python -m console daemon`; schedule disabled; the simulated stand-in
   services, source.kind = simulated, with run_seconds=0, so that only the
   orchestrator is measured) holds the lease and runs the syncs. Requests come
   from a second `Orchestrator(runner=False)` in this benchmark process on the
   same database file (the figure with a target: many samples), plus a few from
   the real CLI (`python -m console sync orders`, each its own process; shown
   for reference). Latency is `run.started_at - request.requested_at` as
   recorded in the store by the two processes (same host clock). Each request
   waits for the previous one to end, then for a random 0-100 ms pause, so
   requests land at random phases of the daemon's 100 ms store polling.

4. Idle daemon CPU: the same daemon, after the benchmark's client has closed and
   the daemon has settled, over a 10 s window: utime+stime from /proc/PID/stat
   (the whole process, all threads) as a percentage of one core.

Subprocesses are always terminated (SIGTERM, then SIGKILL; the daemon also
gets SIGTERM if this process dies) and temporary directories removed. The exit
status is 1 if any target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common import fs_type  # noqa: E402

from core.config import Settings  # noqa: E402
from core.models import EventKind, RunCounts, RunOutcome, SyncMode  # noqa: E402
from core.orchestrator import Orchestrator  # noqa: E402
from core.store import DB_FILENAME, SQLiteStore, Store  # noqa: E402
from core.sync.service import RunContext  # noqa: E402

SYNCDECK = [sys.executable, "-m", "console"]
DAEMON_SERVICES = ["orders", "customers", "products", "prices"]

TARGET_RUNS_PER_S = 2000.0
TARGET_INPROC_P95_MS = 20.0
TARGET_XPROC_P95_MS = 300.0
TARGET_IDLE_CPU_PCT = 1.0


# -- plumbing -----------------------------------------------------------------


@dataclass
class Profile:
    throughput_s: float
    throughput_warmup_s: float
    aps_batch_jobs: int
    aps_chain_s: float
    inproc_samples: int
    xproc_samples: int
    cli_samples: int
    idle_s: float


FULL = Profile(5.0, 1.0, 10_000, 2.0, 400, 120, 5, 10.0)
QUICK = Profile(2.0, 0.5, 5_000, 1.0, 100, 40, 2, 10.0)


@dataclass
class Row:
    metric: str
    value: str
    target: str
    ok: bool | None  # None: informational, no target

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "FAIL")


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    context: str = ""

    def add(
        self,
        metric: str,
        value: str,
        target: str = "reference",
        ok: bool | None = None,
        detail: str = "",
    ) -> None:
        """One figure: `value` goes in the table, `detail` only in the running log."""
        row = Row(metric, value, target, ok)
        self.rows.append(row)
        verdict = f"  [{row.verdict}]" if row.verdict else ""
        more = f" ({detail})" if detail else ""
        print(f"    {metric}: {value}{more}   target {target}{verdict}", flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in (0, 100]."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


class NoopService:
    """A service that does nothing; `after_run` (if set) is awaited inside its run."""

    def __init__(
        self, name: str, after_run: Callable[[NoopService], Awaitable[None]] | None = None
    ) -> None:
        self.name = name
        self.after_run = after_run
        self.runs = 0

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        return (SyncMode.FULL if requested == SyncMode.AUTO else requested), "bench no-op"

    async def run(self, ctx: RunContext) -> RunCounts:
        self.runs += 1
        if self.after_run is not None:
            await self.after_run(self)
        return RunCounts()


# -- 1. throughput ------------------------------------------------------------


async def durable_throughput(
    base: Path,
    prof: Profile,
    report: Report,
    store: Store | None = None,
    label: str = "SQLite file",
    key: str = "durable",
) -> None:
    """On `store` (default: a SQLite file under `base`); the figure is `report.figures[key]`."""
    data_dir = base / f"throughput-{key}"
    data_dir.mkdir(mode=0o700)
    chaining = True
    orch: Orchestrator | None = None

    async def again(service: NoopService) -> None:
        if chaining:
            assert orch is not None
            await orch.request(service.name, SyncMode.FULL)

    services = {f"noop{i}": NoopService(f"noop{i}", again) for i in range(4)}
    orch = Orchestrator(
        store or SQLiteStore(data_dir / DB_FILENAME),
        services,
        settings_for(data_dir),
        runner=True,
        schedule=False,
    )
    await orch.start()
    try:
        await _until(lambda: orch.is_runner, 5.0, "the orchestrator never became the runner")
        for name in services:
            await orch.request(name, SyncMode.FULL)
        await asyncio.sleep(prof.throughput_warmup_s)
        t0 = time.time()
        await asyncio.sleep(prof.throughput_s)
        t1 = time.time()
        chaining = False
        deadline = time.monotonic() + 10
        while (snap := await orch.snapshot()).active is not None or snap.queue:
            if time.monotonic() > deadline:
                raise RuntimeError("the queue never drained")
            await asyncio.sleep(0.01)
        runs = await orch.history(limit=10_000_000)  # every run, from the store
    finally:
        await orch.stop()
    in_window = sum(
        1
        for r in runs
        if r.outcome == RunOutcome.SUCCEEDED
        and r.finished_at is not None
        and t0 <= r.finished_at.timestamp() < t1
    )
    not_ok = sum(1 for r in runs if r.outcome is not None and r.outcome != RunOutcome.SUCCEEDED)
    total = len(runs)
    rate = in_window / (t1 - t0)
    report.add(
        f"Durable no-op runs/s ({label}, 4 self-requeueing services)",
        f"{rate:,.0f}/s ({1000 / rate if rate else float('inf'):.2f} ms/run)",
        f">= {TARGET_RUNS_PER_S:,.0f}/s" if key == "durable" else "reference",
        rate >= TARGET_RUNS_PER_S if key == "durable" else None,
        f"{in_window:,} runs recorded in a {t1 - t0:.1f} s window",
    )
    if not_ok:
        report.notes.append(f"throughput ({label}): {not_ok} of {total} runs did not succeed")
    report.figures[key] = rate


async def _aps_noop() -> None:
    return None


def _aps_scheduler() -> Any:
    from apscheduler.executors.asyncio import AsyncIOExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    return AsyncIOScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": AsyncIOExecutor()},
        job_defaults={"misfire_grace_time": None, "coalesce": False, "max_instances": 1},
    )


async def aps_batch(prof: Profile, report: Report) -> None:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
    from apscheduler.triggers.date import DateTrigger

    n = prof.aps_batch_jobs
    done = asyncio.Event()
    counts = {"executed": 0, "other": 0}
    last = [0.0]

    def listener(event: Any) -> None:
        counts["executed" if event.code == EVENT_JOB_EXECUTED else "other"] += 1
        if counts["executed"] + counts["other"] >= n:
            last[0] = time.perf_counter()
            done.set()

    scheduler = _aps_scheduler()
    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    now = datetime.now(UTC)
    for i in range(n):
        scheduler.add_job(_aps_noop, DateTrigger(run_date=now), id=f"j{i}")
    t0 = time.perf_counter()
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), 120)
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
    rate = counts["executed"] / (last[0] - t0)
    report.add(
        "APScheduler 3 in-memory no-op jobs/s (batch of due jobs drained)",
        f"{rate:,.0f}/s",
        detail=f"{counts['executed']:,} jobs executed, {counts['other']} missed or failed",
    )
    report.figures["aps_batch"] = rate


async def aps_chains(prof: Profile, report: Report) -> None:
    from apscheduler.events import EVENT_JOB_EXECUTED
    from apscheduler.triggers.date import DateTrigger

    scheduler = _aps_scheduler()
    executed: list[float] = []
    chaining = True
    seq = [0]

    scheduler.add_listener(lambda e: executed.append(time.perf_counter()), EVENT_JOB_EXECUTED)

    async def link(chain: int) -> None:
        if chaining:
            seq[0] += 1
            scheduler.add_job(
                link, DateTrigger(run_date=datetime.now(UTC)), args=[chain], id=f"c{seq[0]}"
            )

    scheduler.start()
    try:
        for chain in range(4):
            scheduler.add_job(link, DateTrigger(run_date=datetime.now(UTC)), args=[chain])
        await asyncio.sleep(0.3)
        t0 = time.perf_counter()
        await asyncio.sleep(prof.aps_chain_s)
        t1 = time.perf_counter()
        chaining = False
        await asyncio.sleep(0.05)
    finally:
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
    n = sum(1 for t in executed if t0 <= t < t1)
    report.add(
        "APScheduler 3 in-memory no-op jobs/s (4 self-re-adding chains)",
        f"{n / (t1 - t0):,.0f}/s",
        detail=f"{n:,} jobs executed in a {t1 - t0:.1f} s window",
    )


# -- 2. in-process latency ------------------------------------------------------


async def inprocess_latency(base: Path, prof: Profile, report: Report) -> None:
    data_dir = base / "inproc"
    data_dir.mkdir(mode=0o700)
    service = NoopService("noop")
    orch = Orchestrator(
        SQLiteStore(data_dir / DB_FILENAME),
        {"noop": service},
        settings_for(data_dir),
        runner=True,
        schedule=False,
    )
    await orch.start()
    latencies: list[float] = []
    try:
        await _until(lambda: orch.is_runner, 5.0, "the orchestrator never became the runner")
        async with orch.events() as sub:
            for _ in range(prof.inproc_samples):
                await asyncio.sleep(random.uniform(0.005, 0.015))
                sub.pending()
                t0 = time.perf_counter()
                request = await orch.request("noop", SyncMode.FULL)
                started: float | None = None
                while True:
                    event = await asyncio.wait_for(sub.__anext__(), 10)
                    if event.request_id != request.id:
                        continue
                    if event.kind == EventKind.RUN_STARTED and started is None:
                        started = time.perf_counter()
                    elif event.kind in (EventKind.REQUEST_FINISHED, EventKind.REQUEST_CANCELLED):
                        break
                if started is None:
                    raise RuntimeError(f"request #{request.id} ended without RUN_STARTED")
                latencies.append(started - t0)
    finally:
        await orch.stop()
    ms = [x * 1000 for x in latencies]
    p50, p95 = percentile(ms, 50), percentile(ms, 95)
    report.add(
        f"In-process request() -> RUN_STARTED event, p50 / p95 (n={len(ms)})",
        f"{p50:.2f} / {p95:.2f} ms",
        f"p95 <= {TARGET_INPROC_P95_MS:g} ms",
        p95 <= TARGET_INPROC_P95_MS,
        f"max {max(ms):.2f} ms",
    )


# -- 3 and 4. the daemon --------------------------------------------------------


class Daemon:
    """A real `syncdeck daemon` subprocess; always stopped by `close()`."""

    def __init__(
        self, data_dir: Path, log_path: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCDECK_")}
        self.env.update(
            SYNCDECK_DATA_DIR=str(data_dir),
            SYNCDECK_SCHEDULE__ENABLED="false",
            SYNCDECK_SIMULATION__RUN_SECONDS="0",
            **(extra_env or {}),
        )
        # the simulated stand-ins: nothing but the orchestrator is measured
        self.env["SYNCDECK_SOURCE__KIND"] = "simulated"
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [*SYNCDECK, "daemon"],
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # it prints every event; nobody reads them here
            stderr=self._log,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        _CHILDREN.append(self.proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_ticks(self) -> int:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # after the ")" field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12
        return int(fields[11]) + int(fields[12])

    def close(self) -> None:
        _stop_process(self.proc)
        self._log.close()


_CHILDREN: list[subprocess.Popen[Any]] = []


try:
    _PRCTL: Any = ctypes.CDLL(None).prctl  # looked up here: the child only calls it
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM it if this benchmark dies, even by SIGKILL."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop_process(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=10)


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(what)
        await asyncio.sleep(0.01)


async def _request_ended(orch: Orchestrator, request_id: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not (await orch.get_request(request_id)).state.ended:
        if time.monotonic() > deadline:
            raise RuntimeError(f"request #{request_id} did not end within {timeout}s")
        await asyncio.sleep(0.01)


async def _store_latency_ms(store: Store, request_id: int) -> float:
    request = await store.get_request(request_id)
    runs = await store.runs(request_id=request_id, limit=10)
    if not runs:
        raise RuntimeError(f"request #{request_id} ended without a run")
    first = min(runs, key=lambda r: r.id)
    return (first.started_at - request.requested_at).total_seconds() * 1000


async def cross_process(base: Path, prof: Profile, report: Report) -> None:
    data_dir = base / "daemon"
    data_dir.mkdir(mode=0o700)
    daemon = Daemon(data_dir, base / "daemon.log")
    try:
        store = SQLiteStore(data_dir / DB_FILENAME)  # read directly for the latency figures
        client = Orchestrator(
            store,
            {name: NoopService(name) for name in DAEMON_SERVICES},
            settings_for(data_dir),
            runner=False,
            schedule=False,
        )
        started = time.monotonic()
        await client.start()
        try:
            await _wait_for_daemon_lease(client, daemon)
            print(
                f"    daemon pid {daemon.pid} holds the lease after "
                f"{time.monotonic() - started:.2f} s",
                flush=True,
            )
            lat: list[float] = []
            for i in range(prof.xproc_samples):
                await asyncio.sleep(random.uniform(0.0, 0.1))
                request = await client.request(DAEMON_SERVICES[i % 4], SyncMode.FULL)
                await _request_ended(client, request.id)
                lat.append(await _store_latency_ms(store, request.id))
            print(f"    ({time.monotonic() - started:.1f} s with daemon start-up)", flush=True)
            p50, p95 = percentile(lat, 50), percentile(lat, 95)
            report.add(
                "Cross-process request -> run start, p50 / p95 "
                f"(client Orchestrator -> `syncdeck daemon`, n={len(lat)})",
                f"{p50:.1f} / {p95:.1f} ms",
                f"p95 <= {TARGET_XPROC_P95_MS:g} ms",
                p95 <= TARGET_XPROC_P95_MS,
                f"max {max(lat):.1f} ms; from the store: run.started_at - request.requested_at",
            )

            cli_lat: list[float] = []
            cli_wall: list[float] = []
            for _ in range(prof.cli_samples):
                await asyncio.sleep(random.uniform(0.0, 0.1))
                t0 = time.perf_counter()
                out = await asyncio.to_thread(
                    subprocess.run,
                    [*SYNCDECK, "sync", "orders", "--mode", "full", "--json"],
                    cwd=REPO,
                    env=daemon.env,
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                )
                cli_wall.append((time.perf_counter() - t0) * 1000)
                request_id = int(json.loads(out.stdout)["id"])
                await _request_ended(client, request_id)
                cli_lat.append(await _store_latency_ms(store, request_id))
            if cli_lat:
                report.add(
                    "Cross-process request -> run start, p50 / max "
                    f"(`syncdeck sync` CLI -> daemon, n={len(cli_lat)})",
                    f"{percentile(cli_lat, 50):.1f} / {max(cli_lat):.1f} ms",
                    detail=f"CLI process wall time p50 {percentile(cli_wall, 50):.0f} ms",
                )
        finally:
            await client.stop()

        # 4. idle CPU: nobody else touches the store now; let the daemon settle.
        await asyncio.sleep(2.0)
        if daemon.proc.poll() is not None:
            raise RuntimeError(f"the daemon exited early; see {daemon.log_path}")
        hz = os.sysconf("SC_CLK_TCK")
        ticks0, t0 = daemon.cpu_ticks(), time.monotonic()
        await asyncio.sleep(prof.idle_s)
        ticks1, t1 = daemon.cpu_ticks(), time.monotonic()
        cpu_s = (ticks1 - ticks0) / hz
        pct = 100 * cpu_s / (t1 - t0)
        report.add(
            f"Idle `syncdeck daemon` CPU over {t1 - t0:.0f} s (utime+stime, % of one core)",
            f"{pct:.2f} %",
            f"<= {TARGET_IDLE_CPU_PCT:g} %",
            pct <= TARGET_IDLE_CPU_PCT,
            f"{cpu_s * 1000:.0f} ms CPU; /proc/{daemon.pid}/stat at {hz} ticks/s",
        )
    finally:
        daemon.close()


async def _wait_for_daemon_lease(client: Orchestrator, daemon: Daemon) -> None:
    deadline = time.monotonic() + 30
    while True:
        if daemon.proc.poll() is not None:
            raise RuntimeError(f"the daemon exited ({daemon.proc.returncode}); see its log")
        lease = (await client.snapshot()).runner  # None unless alive
        if lease is not None and lease.pid == daemon.pid:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the daemon never took the runner lease")
        await asyncio.sleep(0.05)


# -- main ---------------------------------------------------------------------


@contextlib.contextmanager
def _section(title: str) -> Iterator[None]:
    print(f"\n{title}", flush=True)
    started = time.monotonic()
    yield
    print(f"    ({time.monotonic() - started:.1f} s)", flush=True)


async def bench(prof: Profile, quick: bool) -> Report:
    report = Report()
    base = Path(tempfile.mkdtemp(prefix="syncdeck-bench-"))
    try:
        report.context = (
            f"`bench/orchestrator.py{' --quick' if quick else ''}`: Python "
            f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"{os.cpu_count()} CPUs ({platform.machine()}), store on {fs_type(base)}, "
            f"load average {os.getloadavg()[0]:.2f} at start"
        )
        print(f"syncdeck orchestrator bench, {report.context}; temp dir {base}", flush=True)
        with _section("1. throughput"):
            await durable_throughput(base, prof, report)
            await aps_batch(prof, report)
            await aps_chains(prof, report)
            aps = report.figures.get("aps_batch", 0.0)
            durable = report.figures.get("durable", 0.0)
            if aps and durable:
                print(
                    f"    durable SQLite runs/s = {durable / aps:.1%} of APScheduler's batch rate"
                )
        with _section("2. in-process latency"):
            await inprocess_latency(base, prof, report)
        with _section(
            "3. cross-process latency and 4. idle daemon CPU "
            "(daemon: schedule off, simulated services, run_seconds=0)"
        ):
            await cross_process(base, prof, report)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return report


def print_table(report: Report) -> None:
    headers = ("Metric", "Result", "Target", "Status")
    rows = [(r.metric, r.value, r.target, r.verdict) for r in report.rows]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print()
    print(report.context)
    print()
    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    for note in report.notes:
        print(f"\nnote: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows, fewer samples")
    args = parser.parse_args()
    prof = QUICK if args.quick else FULL
    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        report = asyncio.run(bench(prof, args.quick))
    finally:
        for child in _CHILDREN:
            _stop_process(child)
    print_table(report)
    failed = [r for r in report.rows if r.ok is False]
    print(
        f"\n{len(report.rows) - len(failed) - sum(r.ok is None for r in report.rows)} passed, "
        f"{len(failed)} failed, in {time.monotonic() - started:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
