"""Opening the console: embed the orchestrator, then run the Textual app over it.

The console becomes the runner when no other process holds the lease and
attaches otherwise (the orchestrator decides, from the store). `--read-only`
opens a client that never runs syncs and refuses every mutation.

However the console ends, it ends the way quitting does: the orchestrator stops,
so a run this console was doing is recorded `interrupted`, queued again and the
lease released at once. That includes SIGHUP (the SSH connection or the terminal
went away) and SIGTERM. Their default action would kill the process and leave the run
"running" until another process saw the lease expire; here each makes the app exit,
with 128 + the signal's number, as a shell reports a death by it.
The exit code is otherwise the app's: 0 after `q`, 2 when the store broke under
the console (the app says so first, and the reason is printed once the screen is gone).
"""

from __future__ import annotations

import asyncio
import signal
import sys

from core.config import Settings
from core.runtime import build_orchestrator

STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


def run_console(settings: Settings, read_only: bool = False) -> int:
    return asyncio.run(_run(settings, read_only))


async def _run(settings: Settings, read_only: bool) -> int:
    from console.tui.app import SyncdeckApp

    orchestrator = build_orchestrator(settings, runner=not read_only)
    await orchestrator.start(defer_schedule=True)  # the app starts it after its first frame
    app = SyncdeckApp(orchestrator, read_only=read_only)
    loop = asyncio.get_running_loop()
    for number in STOP_SIGNALS:
        loop.add_signal_handler(number, app.exit, None, 128 + number)
    try:
        await app.run_async()
    finally:
        for number in STOP_SIGNALS:
            loop.remove_signal_handler(number)
        # A run this console was doing is recorded as interrupted and queued again.
        await orchestrator.stop()
    fault = orchestrator.fault
    if fault is not None:
        print(f"syncdeck: {fault}", file=sys.stderr)
    return app.return_code or 0
