"""The command line's way to the core: a client orchestrator around one command's work.

A client never runs syncs, so every command but `daemon` can run beside a
running console or daemon. A command that only reads passes `reads_only`,
and then a data directory without a store is refused (`StoreError`, exit 2)
instead of getting an empty store created in it.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

from core.config import Settings
from core.orchestrator import Orchestrator, ScheduleView
from core.runtime import build_orchestrator, require_store


async def client(
    settings: Settings, work: Callable[[Orchestrator], Awaitable[int]], *, reads_only: bool = False
) -> int:
    """Run `work` on a client orchestrator; `reads_only` commands never create a store."""
    if reads_only:
        require_store(settings)
    orchestrator = build_orchestrator(settings, runner=False)
    await orchestrator.start()
    try:
        return await work(orchestrator)
    finally:
        await orchestrator.stop()


def warn_stored_problems(schedule: ScheduleView) -> None:
    """Stored schedule overrides that are invalid (the plan uses the configured value
    instead): one line each on stderr, with how to reset them."""
    for plan in schedule.plans:
        for problem in plan.problems:
            print(f"syncdeck: warning: {plan.service}: {problem}", file=sys.stderr)
