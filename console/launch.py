"""Opening the console: the embedded orchestrator plus a live view.

Until the Textual console lands, the view is a plain-text status screen
redrawn once a second; it embeds the orchestrator exactly as the console will
(runner when no other process holds the lease, attached otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from console.cli import render_status
from core.config import Settings
from core.runtime import build_orchestrator


def run_console(settings: Settings, read_only: bool = False) -> int:
    return asyncio.run(_run(settings, read_only))


async def _run(settings: Settings, read_only: bool) -> int:
    orchestrator = build_orchestrator(settings, runner=not read_only)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await orchestrator.start()
    try:
        while not stop.is_set():
            snapshot = await orchestrator.snapshot()
            role = "runner" if orchestrator.is_runner else "attached"
            sys.stdout.write("\x1b[H\x1b[2J")
            sys.stdout.write(f"syncdeck ({role}, {settings.data_dir}) - ctrl+c to quit\n\n")
            sys.stdout.write(render_status(snapshot) + "\n")
            sys.stdout.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        await orchestrator.stop()
    return 0
