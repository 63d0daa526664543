"""Parts 2-4 of bench/orchestrator.py: request -> run start latency in one process (an
idle runner, timed to the RUN_STARTED event) and across processes (a client orchestrator and
the CLI against a real `syncdeck daemon`, from the store's timestamps), then the idle
daemon's CPU. Each beside its target."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import time
from pathlib import Path

from common import percentile, until
from daemon import (
    DAEMON_SERVICES,
    REPO,
    SYNCDECK,
    Daemon,
    request_ended,
    store_latency_ms,
    wait_for_lease,
)
from noop import NoopService, settings_for
from noop import client as noop_client
from orchprofile import Profile
from report import Report

from core.models import EventKind, SyncMode
from core.orchestrator import Orchestrator
from core.store import DB_FILENAME, SQLiteStore

TARGET_INPROC_P95_MS = 20.0
TARGET_XPROC_P95_MS = 300.0
TARGET_IDLE_CPU_PCT = 1.0


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
        await until(lambda: orch.is_runner, 5.0, "the orchestrator to become the runner")
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


async def cross_process(base: Path, prof: Profile, report: Report) -> None:
    data_dir = base / "daemon"
    data_dir.mkdir(mode=0o700)
    daemon = Daemon(data_dir, base / "daemon.log")
    try:
        store = SQLiteStore(data_dir / DB_FILENAME)  # read directly for the latency figures
        client = noop_client(store, data_dir, tuple(DAEMON_SERVICES))
        started = time.monotonic()
        await client.start()
        try:
            await wait_for_lease(client, daemon)
            print(
                f"    daemon pid {daemon.pid} holds the lease after "
                f"{time.monotonic() - started:.2f} s",
                flush=True,
            )
            lat: list[float] = []
            for i in range(prof.xproc_samples):
                await asyncio.sleep(random.uniform(0.0, 0.1))
                request = await client.request(DAEMON_SERVICES[i % 4], SyncMode.FULL)
                await request_ended(client, request.id)
                lat.append(await store_latency_ms(store, request.id))
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
                await request_ended(client, request_id)
                cli_lat.append(await store_latency_ms(store, request_id))
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
