"""`syncdeck sources check` and `syncdeck replica rebuild`: the operator's own ERP.

`sources check [ENTITY]` checks each configured entity's mapping against its database
(`core.runtime.checks`) and prints what it found; exit 0 when all is well, 2 on a
configuration or mapping problem, 3 when a source cannot be reached.

`replica rebuild ENTITY` drops a configured entity's replica tables and bookkeeping,
so that a mapping the replica refuses (a column removed, renamed or retyped) can
start again; it refuses while a runner is alive, since that runner may be writing
those tables. An entity that is not configured is a `LookupError` (exit 2).
"""

from __future__ import annotations

import argparse

from console.cli.client import client
from console.cli.parser import EXIT_OK, UsageError
from core.config import Settings
from core.orchestrator import Orchestrator


async def cmd_replica(settings: Settings, args: argparse.Namespace) -> int:
    from core.runtime import rebuild_replica_table

    async def work(orch: Orchestrator) -> int:
        runner = (await orch.snapshot()).runner
        if runner is not None:
            raise UsageError(
                f"a runner ({runner.holder}) is alive and may be writing {args.entity}'s "
                "tables: stop it first (`syncdeck daemon`, a console or `serve`)"
            )
        rebuild_replica_table(settings, args.entity)
        print(f"{args.entity}: replica tables dropped; its next run makes them anew, in full")
        return EXIT_OK

    return await client(settings, work)


async def cmd_sources(settings: Settings, args: argparse.Namespace) -> int:
    from core.runtime.checks import check_sources

    reports = await check_sources(settings, [args.entity] if args.entity else None)
    worst = EXIT_OK
    for report in reports:
        print(report.text)
        worst = max(worst, report.exit_code)
    return worst
