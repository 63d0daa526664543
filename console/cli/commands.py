"""The command line's subcommands: one coroutine each, a thin client of the orchestrator.

Each takes the loaded settings and the parsed arguments and returns the exit
code: 0 done, 1 a waited sync (or a verify) did not succeed, or a probe found its circuit
not open. Bad input raises
`UsageError`; the store's refusals raise `StoreError` or `LookupError` (an
unknown service); `console.cli.main` turns all three into one line and exit
code 2. Every command but `daemon` opens a client that never runs syncs, so it
can be used beside a running console or daemon.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from console.api.commands import API_COMMANDS
from console.cli.client import client, warn_stored_problems
from console.cli.daemon import cmd_daemon
from console.cli.parser import ERP_TOKEN_ENV, EXIT_FAILED, EXIT_OK, UsageError
from console.cli.render import (
    HISTORY_HEADER,
    describe_result,
    print_json,
    render_cancelled,
    render_probe,
    render_queued,
    render_run,
    render_status,
    result_document,
)
from console.cli.schedule import cmd_schedule
from console.cli.sources import cmd_replica, cmd_sources
from console.cli.verify import cmd_verify
from console.documents import request_document, run_document, status_document
from core.config import Settings, read_secret_file
from core.errors import InvalidTransition
from core.models import RunOutcome
from core.orchestrator import Orchestrator
from core.orchestrator.identity import os_user

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


async def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    async def work(orch: Orchestrator) -> int:
        snapshot = await orch.snapshot()
        warn_stored_problems(await orch.schedule())
        if args.json:
            print_json(status_document(snapshot))
        else:
            print(render_status(snapshot))
        return EXIT_OK

    return await client(settings, work, reads_only=True)


async def cmd_sync(settings: Settings, args: argparse.Namespace) -> int:
    async def work(orch: Orchestrator) -> int:
        request = await orch.request(args.service, args.mode, args.priority, source="cli")
        if not args.wait:
            if args.json:
                print_json(request_document(request))
            else:
                print(render_queued(args.service, request))
            return EXIT_OK
        snapshot = await orch.snapshot()
        if snapshot.runner is None:
            print(
                "syncdeck: no runner is alive; waiting for one (start `syncdeck daemon`)",
                file=sys.stderr,
            )
        try:
            result = await orch.wait(request.id, timeout=args.timeout)
        except TimeoutError:
            print(
                f"syncdeck: request #{request.id} did not end within {args.timeout}s",
                file=sys.stderr,
            )
            return EXIT_FAILED
        if args.json:
            print_json(result_document(result))
        else:
            print(describe_result(result.request, result.outcome, result.run))
        return EXIT_OK if result.outcome == RunOutcome.SUCCEEDED else EXIT_FAILED

    return await client(settings, work)


async def cmd_cancel(settings: Settings, args: argparse.Namespace) -> int:
    async def work(orch: Orchestrator) -> int:
        print(render_cancelled(await orch.cancel(args.request_id)))
        return EXIT_OK

    return await client(settings, work)


async def cmd_probe(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 done, 1 the circuit is not open (the store's refusal, in one line)."""

    async def work(orch: Orchestrator) -> int:
        try:
            request = await orch.probe_now(args.service, by="cli", subject=os_user())
        except InvalidTransition as exc:
            print(f"syncdeck: {exc}", file=sys.stderr)
            return EXIT_FAILED
        if args.json:
            print_json(request_document(request))
        else:
            print(render_probe(request))
        return EXIT_OK

    return await client(settings, work)


async def cmd_history(settings: Settings, args: argparse.Namespace) -> int:
    async def work(orch: Orchestrator) -> int:
        runs = await orch.history(args.service, args.limit)
        if args.json:
            print_json([run_document(run) for run in runs])
            return EXIT_OK
        if not runs:
            print("no runs yet")
        else:
            print(HISTORY_HEADER)
        for run in runs:
            print(render_run(run))
        return EXIT_OK

    return await client(settings, work, reads_only=True)


def _switch(pause: bool) -> Command:
    """`pause` and `resume`: of dispatching, or with --schedule of the schedule."""

    async def command(settings: Settings, args: argparse.Namespace) -> int:
        async def work(orch: Orchestrator) -> int:
            if args.schedule:
                await (orch.pause_schedule() if pause else orch.resume_schedule())
                print(f"schedule {'paused' if pause else 'resumed'}")
            elif pause:
                await orch.pause()
                print("dispatching paused: requests queue up until `syncdeck resume`")
            else:
                await orch.resume()
                print("dispatching resumed")
            return EXIT_OK

        return await client(settings, work)

    return command


async def cmd_priority(settings: Settings, args: argparse.Namespace) -> int:
    async def work(orch: Orchestrator) -> int:
        if args.request is not None:
            request = await orch.get_request(args.request)
            if request.service != args.service:
                raise UsageError(
                    f"request #{args.request} is for {request.service}, not {args.service}"
                )
            await orch.set_priority(args.request, args.priority)
            print(f"request #{args.request}: priority {args.priority}")
        else:
            await orch.set_default_priority(args.service, args.priority)
            print(f"{args.service}: default priority {args.priority}")
        return EXIT_OK

    return await client(settings, work)


async def cmd_demo_erp(settings: Settings, args: argparse.Namespace) -> int:
    from core.demo.server import serve

    token = args.token
    if args.token_file is not None:
        token = read_secret_file(args.token_file, "--token-file")
    elif token is None:
        token = os.environ.get(ERP_TOKEN_ENV) or None
    await serve(settings, args.host, args.port, token)
    return EXIT_OK


COMMANDS: dict[str, Command] = {
    "daemon": cmd_daemon,
    "status": cmd_status,
    "sync": cmd_sync,
    "cancel": cmd_cancel,
    "probe": cmd_probe,
    "history": cmd_history,
    "pause": _switch(pause=True),
    "resume": _switch(pause=False),
    "priority": cmd_priority,
    "schedule": cmd_schedule,
    "verify": cmd_verify,
    "replica": cmd_replica,
    "sources": cmd_sources,
    "demo-erp": cmd_demo_erp,
    **API_COMMANDS,
}
