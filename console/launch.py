"""Opening the console: embed the orchestrator, then run the Textual app over it.

The console becomes the runner when no other process holds the lease and
attaches otherwise (the orchestrator decides, from the store). `--read-only`
opens a client that never runs syncs and refuses every mutation.
"""

from __future__ import annotations

import asyncio

from core.config import Settings
from core.runtime import build_orchestrator


def run_console(settings: Settings, read_only: bool = False) -> int:
    return asyncio.run(_run(settings, read_only))


async def _run(settings: Settings, read_only: bool) -> int:
    from console.app import SyncdeckApp

    orchestrator = build_orchestrator(settings, runner=not read_only)
    await orchestrator.start(defer_schedule=True)  # the app starts it after its first frame
    try:
        await SyncdeckApp(orchestrator, read_only=read_only).run_async()
    finally:
        # A run this console was doing is recorded as interrupted and queued again.
        await orchestrator.stop()
    return 0
