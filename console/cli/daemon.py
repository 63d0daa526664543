"""`syncdeck daemon`: run syncs and the schedule (or stand by for the lease) until a signal.

What it prints is for an operator reading a log:
- one line on stderr when it starts
  (`syncdeck daemon started: store=... role=... schedule=...`);
- one event per line on stdout while it runs (`core.models.Event`, progress left
  out, as `console.cli.render.render_event` writes it: ISO 8601 times, durations in
  seconds with two decimals, counts as key=value);
- one line on stderr when it stops (`stopping: lease released, N queued`).

A store that breaks under it ends it with that reason and exit code 2.

Failures: a snapshot that cannot be read for the start or stop line says so in
the line instead (`role=unknown`); what the orchestrator raises on start
propagates to `console.cli.main`, which prints one line.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

from console.cli.parser import EXIT_OK, EXIT_USAGE
from console.cli.render import iso, render_event
from core.config import Settings
from core.errors import StoreError
from core.models import Snapshot
from core.orchestrator import Orchestrator
from core.runtime import NO_HOOKS, Hooks, build_orchestrator, describe_store

ROLE_WAIT_S = 3.0
"""How long the start line waits for the first heartbeat to say whether it holds the lease."""


async def _settled(orch: Orchestrator) -> Snapshot | None:
    """The first snapshot after the lease is decided (ours or another live holder's)."""
    deadline = time.monotonic() + ROLE_WAIT_S
    while True:
        try:
            snap = await orch.snapshot()
        except StoreError:
            return None
        if snap.is_runner or snap.runner is not None or time.monotonic() >= deadline:
            return snap
        await asyncio.sleep(0.05)


def start_line(orch: Orchestrator, settings: Settings, snap: Snapshot | None) -> str:
    parts = [
        f"syncdeck daemon started: holder={orch.holder_id}",
        f"store={describe_store(settings)}",
        f"profile={settings.profile}",
    ]
    if snap is None:
        return " ".join([*parts, "role=unknown"])
    if snap.is_runner and snap.runner is not None:
        parts.append(f"role=runner epoch={snap.runner.epoch}")
    elif snap.runner is not None:
        parts.append(f"role=standby runner={snap.runner.holder}")
    else:
        parts.append("role=standby")
    parts.append(f"schedule={snap.schedule}")
    upcoming = [s for s in snap.services if s.next_run is not None]
    if snap.schedule == "running" and upcoming:
        first = min(upcoming, key=lambda s: (s.next_run, s.name))
        assert first.next_run is not None
        parts.append(f"next_run={first.name}@{iso(first.next_run)}")
    parts.append(f"queued={len(snap.queue)}")
    return " ".join(parts)


def stop_line(snap: Snapshot | None, held: bool) -> str:
    """What stopping left: the lease, and the queue (a run under way is queued again)."""
    if snap is None:
        return "stopping: queue unknown (the store could not be read)"
    queued = len(snap.queue) + (1 if snap.active is not None and held else 0)
    lease = "lease released" if held else "no lease held"
    return f"stopping: {lease}, {queued} queued"


async def cmd_daemon(settings: Settings, args: argparse.Namespace) -> int:
    """Run syncs and the schedule (or stand by for the lease) until SIGINT or SIGTERM,
    printing every event but progress; stopping records a sync under way as interrupted."""
    return await run_daemon(settings)


async def run_daemon(settings: Settings, hooks: Hooks = NO_HOOKS) -> int:
    """`cmd_daemon`, with a test's `hooks` in what it builds (`core.runtime.Hooks`)."""
    orchestrator = build_orchestrator(settings, runner=True, hooks=hooks)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await orchestrator.start()
    subscription = orchestrator.events()
    snap = await _settled(orchestrator)
    print(start_line(orchestrator, settings, snap), file=sys.stderr, flush=True)

    async def log_events() -> None:
        async for event in subscription:
            if event.kind.value != "run.progress":
                print(render_event(event), flush=True)

    printer = asyncio.create_task(log_events())
    fault = asyncio.create_task(orchestrator.wait_for_fault())
    stopped = asyncio.create_task(stop.wait())
    last: Snapshot | None = None
    held = False
    try:
        await asyncio.wait((fault, stopped), return_when=asyncio.FIRST_COMPLETED)
        if orchestrator.fault is None:
            held = orchestrator.is_runner
            try:
                last = await orchestrator.snapshot()
            except StoreError:
                last = None
    finally:
        printer.cancel()
        subscription.close()
        stopped.cancel()
        fault.cancel()
        await orchestrator.stop()
    if orchestrator.fault is not None:  # the store broke under us: say so, and fail
        print(f"syncdeck daemon stopped: {orchestrator.fault}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    print(stop_line(last, held), file=sys.stderr, flush=True)
    return EXIT_OK
