"""The `syncdeck` command line: a thin client of the core.

Headless subcommands never import Textual, so they start fast and run where no
terminal UI could. Exit codes: 0 done, 1 a waited sync failed, 2 usage or
configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from console.api.commands import API_COMMANDS, add_commands
from console.startup import resume_gc
from core.config import ConfigError, Settings, load_settings
from core.errors import StoreError
from core.models import MAX_PRIORITY, MIN_PRIORITY, RunOutcome, RunRecord, Snapshot, SyncMode
from core.orchestrator import Orchestrator
from core.reports import run_document, status_document
from core.runtime import build_orchestrator

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the operator: reported in one line, exit code 2."""


def _priority(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise argparse.ArgumentTypeError(f"must be between {MIN_PRIORITY} and {MAX_PRIORITY}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _common_options(suppress: bool) -> argparse.ArgumentParser:
    """Options accepted before and after the command. After it they default to
    SUPPRESS, so `syncdeck --data-dir X status` keeps X."""
    default: Any = argparse.SUPPRESS if suppress else None
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=default,
        help="directory of the store and syncdeck.toml (default: $SYNCDECK_DATA_DIR or the "
        "platform's user data directory)",
    )
    common.add_argument("--config", type=Path, default=default, help="TOML configuration file")
    common.add_argument(
        "--profile",
        choices=["default", "demo"],
        default=default,
        help="demo: schedule compressed to seconds",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="log debug detail to stderr",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    top = _common_options(suppress=False)
    common = _common_options(suppress=True)

    parser = argparse.ArgumentParser(
        prog="syncdeck",
        description="Keep a replica of ERP data in sync: one orchestrator, one sync at a time. "
        "With no command, opens the operations console.",
        parents=[top],
    )
    parser.add_argument(
        "--read-only", action="store_true", help="console: observe without changing anything"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser(
        "daemon",
        parents=[common],
        help="run the orchestrator and schedule with no UI",
        description="Run the orchestrator and the schedule headless until SIGINT or SIGTERM. "
        "Several daemons may share a data directory: one runs syncs, the others stand by.",
    )

    status = sub.add_parser("status", parents=[common], help="services, queue, active sync, runner")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    sync = sub.add_parser("sync", parents=[common], help="request a sync of one service")
    sync.add_argument("service")
    sync.add_argument("--mode", choices=[m.value for m in SyncMode], default=SyncMode.AUTO.value)
    sync.add_argument("--priority", type=_priority, help="priority for this request")
    sync.add_argument(
        "--wait", action="store_true", help="wait until it ends; exit 1 if it did not succeed"
    )
    sync.add_argument("--timeout", type=float, help="with --wait: give up after this many seconds")
    sync.add_argument("--json", action="store_true", help="machine-readable output")

    cancel = sub.add_parser("cancel", parents=[common], help="cancel a queued or running request")
    cancel.add_argument("request_id", type=_positive_int, metavar="REQUEST_ID")

    history = sub.add_parser("history", parents=[common], help="finished runs, newest first")
    history.add_argument("service", nargs="?")
    history.add_argument("--limit", type=_positive_int, default=20)
    history.add_argument("--json", action="store_true", help="machine-readable output")

    pause = sub.add_parser(
        "pause", parents=[common], help="stop starting syncs (queue still fills)"
    )
    pause.add_argument("--schedule", action="store_true", help="pause the schedule instead")
    resume = sub.add_parser("resume", parents=[common], help="start syncs again")
    resume.add_argument("--schedule", action="store_true", help="resume the schedule instead")

    prio = sub.add_parser("priority", parents=[common], help="set a service's default priority")
    prio.add_argument("service")
    prio.add_argument("priority", type=_priority, metavar="N")
    prio.add_argument(
        "--request",
        type=_positive_int,
        metavar="REQUEST_ID",
        help="change this queued request's priority instead of the default",
    )
    sched = sub.add_parser(
        "schedule",
        parents=[common],
        help="override a service's schedule (persisted in the store)",
        description="Change when the schedule requests a service's sync. Overrides persist "
        "in the store and win over the configuration; --reset returns to the configuration.",
    )
    sched.add_argument("service")
    sched.add_argument("--interval", type=float, metavar="SECONDS")
    sched.add_argument("--offset", type=float, metavar="SECONDS")
    toggle = sched.add_mutually_exclusive_group()
    toggle.add_argument("--enable", dest="enabled", action="store_true", default=None)
    toggle.add_argument("--disable", dest="enabled", action="store_false")
    sched.add_argument("--reset", action="store_true", help="drop every override")

    verify = sub.add_parser(
        "verify",
        parents=[common],
        help="compare the replica with the source; exit 1 on drift",
        description="List every record of the source and compare it with the replica by key: "
        "missing, extra and different rows. Exit 0 when they match, 1 on drift.",
    )
    verify.add_argument("service", nargs="?", help="one service (default: all four)")
    verify.add_argument("--json", action="store_true", help="machine-readable output")

    demo = sub.add_parser("demo-erp", parents=[common], help="the embedded demo ERP")
    demo_sub = demo.add_subparsers(dest="demo_command", metavar="ACTION", required=True)
    serve = demo_sub.add_parser(
        "serve",
        parents=[common],
        help="serve the demo ERP over HTTP (the REST JSON API the http source reads)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--token", help="require this bearer token")
    add_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        overrides: dict[str, Any] = {}
        if args.profile:
            overrides["profile"] = args.profile
        settings = load_settings(args.config, args.data_dir, **overrides)
    except ConfigError as exc:
        print(f"syncdeck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command is None:
        from console.launch import run_console  # Textual is imported only here

        return run_console(settings, read_only=args.read_only)
    resume_gc()  # start-up is over for a headless command (see console.startup)
    command = COMMANDS[args.command]
    try:
        return asyncio.run(command(settings, args))
    except (UsageError, StoreError, LookupError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"syncdeck: {message}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a port in use, an unwritable data directory
        print(f"syncdeck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


async def _client(settings: Settings, work: Callable[[Orchestrator], Awaitable[int]]) -> int:
    orchestrator = build_orchestrator(settings, runner=False)
    await orchestrator.start()
    try:
        return await work(orchestrator)
    finally:
        await orchestrator.stop()


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


async def cmd_daemon(settings: Settings, args: argparse.Namespace) -> int:
    orchestrator = build_orchestrator(settings, runner=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await orchestrator.start()
    print(
        f"syncdeck daemon {orchestrator.holder_id} on {settings.data_dir} "
        f"(profile {settings.profile})",
        file=sys.stderr,
        flush=True,
    )
    subscription = orchestrator.events()

    async def log_events() -> None:
        async for event in subscription:
            if event.kind.value != "run.progress":
                detail = " ".join(f"{k}={v}" for k, v in event.data.items() if v is not None)
                target = event.service or ""
                rid = f"#{event.request_id}" if event.request_id else ""
                print(f"{_when(event.at)} {event.kind.value} {target}{rid} {detail}", flush=True)

    printer = asyncio.create_task(log_events())
    try:
        await stop.wait()
    finally:
        printer.cancel()
        subscription.close()
        await orchestrator.stop()
    return EXIT_OK


async def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    async def work(orch: Orchestrator) -> int:
        snapshot = await orch.snapshot()
        if args.json:
            _print_json(status_document(snapshot))
        else:
            print(render_status(snapshot))
        return EXIT_OK

    return await _client(settings, work)


def render_status(snap: Snapshot) -> str:
    lines = []
    runner = (
        f"{snap.runner.holder} since {_when(snap.runner.acquired_at)}"
        if snap.runner
        else "none (start `syncdeck daemon` or the console)"
    )
    lines.append(f"runner:   {runner}")
    lines.append(
        f"dispatch: {'paused' if snap.controls.dispatch_paused else 'running'}   "
        f"schedule: {'paused' if snap.controls.schedule_paused else 'running'}   "
        f"health: {snap.health.value}"
    )
    if snap.active is not None:
        req = snap.active.request
        progress = snap.active.progress
        done = f" {progress.done}/{progress.total or '?'}" if progress else ""
        lines.append(f"active:   #{req.id} {req.service} ({req.mode.value}){done}")
    else:
        lines.append("active:   none")
    lines.append("")
    lines.append(f"{'SERVICE':<11}{'STATE':<14}{'PRIO':>4}  {'HEALTH':<10}{'LAST RUN':<32}NEXT RUN")
    for s in snap.services:
        last = "-"
        if s.last_run is not None:
            outcome = s.last_run.outcome.value if s.last_run.outcome else "running"
            last = f"{outcome} {_when(s.last_run.finished_at)}"
        lines.append(
            f"{s.name:<11}{s.state:<14}{s.priority:>4}  {s.health.value:<10}{last:<32}"
            f"{_when(s.next_run)}"
        )
        for reason in s.health_reasons:
            lines.append(f"{'':<11}! {reason}")
    lines.append("")
    if not snap.queue:
        lines.append("queue:    empty")
    else:
        lines.append(
            f"{'#':<3}{'ID':>6}  {'SERVICE':<11}{'MODE':<13}{'PRIO':>6}  {'WAITED':>8}  SOURCE"
        )
        for entry in snap.queue:
            r = entry.request
            lines.append(
                f"{entry.position:<3}{r.id:>6}  {r.service:<11}{r.mode.value:<13}"
                f"{entry.effective_priority:>6.1f}  {entry.waited_s:>7.0f}s  {r.source.value}"
            )
    return "\n".join(lines)


async def cmd_sync(settings: Settings, args: argparse.Namespace) -> int:
    async def work(orch: Orchestrator) -> int:
        request = await orch.request(args.service, args.mode, args.priority, source="cli")
        if not args.wait:
            if args.json:
                from core.reports import request_document

                _print_json(request_document(request))
            else:
                verb = "merged into" if request.merged else "queued as"
                print(f"{args.service}: {verb} request #{request.id} ({request.mode.value})")
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
            from core.reports import request_document

            doc = request_document(result.request)
            doc["run"] = None if result.run is None else run_document(result.run)
            _print_json(doc)
        else:
            print(_describe_result(result.request.id, result.outcome, result.run))
        return EXIT_OK if result.outcome == RunOutcome.SUCCEEDED else EXIT_FAILED

    return await _client(settings, work)


def _describe_result(request_id: int, outcome: RunOutcome, run: RunRecord | None) -> str:
    text = f"request #{request_id}: {outcome.value}"
    if run is not None:
        c = run.counts
        text += (
            f" ({run.service} {run.mode.value}, {run.duration or 0:.1f}s, fetched {c.fetched}, "
            f"inserted {c.inserted}, updated {c.updated}, deleted {c.deleted}, "
            f"rejected {c.rejected})"
        )
        if run.error:
            text += f": {run.error}"
    return text


async def cmd_cancel(settings: Settings, args: argparse.Namespace) -> int:
    async def work(orch: Orchestrator) -> int:
        request = await orch.cancel(args.request_id)
        if request.state.value == "running":
            print(f"request #{request.id}: asked the running {request.service} sync to stop")
        else:
            print(f"request #{request.id}: cancelled")
        return EXIT_OK

    return await _client(settings, work)


async def cmd_history(settings: Settings, args: argparse.Namespace) -> int:
    async def work(orch: Orchestrator) -> int:
        runs = await orch.history(args.service, args.limit)
        if args.json:
            _print_json([run_document(run) for run in runs])
            return EXIT_OK
        if not runs:
            print("no runs yet")
        for run in runs:
            outcome = run.outcome.value if run.outcome else "running"
            duration = f"{run.duration:.1f}s" if run.duration is not None else "-"
            c = run.counts
            line = (
                f"{run.id:>6} #{run.request_id:<6} {_when(run.started_at)} {run.service:<10} "
                f"{run.mode.value:<12}{outcome:<12}{duration:>8}  "
                f"f{c.fetched} i{c.inserted} u{c.updated} d{c.deleted} r{c.rejected}"
            )
            if run.error:
                line += f"  {run.error_class}: {run.error}"
            print(line)
        return EXIT_OK

    return await _client(settings, work)


def _switch(pause: bool) -> Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]:
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

        return await _client(settings, work)

    return command


async def cmd_priority(settings: Settings, args: argparse.Namespace) -> int:
    async def work(orch: Orchestrator) -> int:
        if args.request is not None:
            request = await orch.store.get_request(args.request)
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

    return await _client(settings, work)


async def cmd_schedule(settings: Settings, args: argparse.Namespace) -> int:
    for name in ("interval", "offset"):
        value = getattr(args, name)
        if value is not None and (value < 0 or (name == "interval" and value == 0)):
            raise UsageError(f"--{name} must be {'positive' if name == 'interval' else '>= 0'}")

    async def work(orch: Orchestrator) -> int:
        current = next((s for s in await orch.store.services() if s.name == args.service), None)
        if current is None:
            raise UsageError(
                f"unknown service {args.service!r}; known: {', '.join(orch.service_names)}"
            )
        if args.reset:
            interval, offset, enabled = None, None, None
        else:
            interval = args.interval if args.interval is not None else current.interval_s
            offset = args.offset if args.offset is not None else current.offset_s
            enabled = args.enabled if args.enabled is not None else current.schedule_enabled
        await orch.set_schedule(args.service, interval, offset, enabled)
        view = next(s for s in (await orch.snapshot()).services if s.name == args.service)
        state = "enabled" if view.schedule_enabled else "disabled"
        print(
            f"{args.service}: every {view.interval_s:g}s, offset {view.offset_s:g}s, {state}; "
            f"next run {_when(view.next_run)}"
        )
        return EXIT_OK

    return await _client(settings, work)


async def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    from core.services.entities import ENTITIES
    from core.services.registry import source_factory
    from core.services.verify import verify_entity
    from core.store.sqlite import DB_FILENAME, SQLiteStore

    if settings.source.kind == "simulated":
        raise UsageError("verify needs a real source (source.kind demo or http)")
    names = [args.service] if args.service else list(ENTITIES)
    unknown = [n for n in names if n not in ENTITIES]
    if unknown:
        raise UsageError(f"unknown service {unknown[0]!r}; known: {', '.join(ENTITIES)}")
    store = SQLiteStore(settings.data_dir / DB_FILENAME)
    await store.open()  # creates or migrates the replica tables
    await store.close()
    make_source = source_factory(settings)
    reports = []
    for name in names:
        source = make_source()
        try:
            reports.append(
                await verify_entity(ENTITIES[name], source, settings.data_dir / DB_FILENAME)
            )
        finally:
            await source.close()
    if args.json:
        _print_json([vars(r) | {"clean": r.clean} for r in reports])
    else:
        for r in reports:
            verdict = "in sync" if r.clean else "DRIFT"
            print(
                f"{r.entity:<10} {verdict:<8} source {r.source_rows} rows, missing {r.missing}, "
                f"extra {r.extra}, different {r.different}, invalid in source {r.invalid_in_source}"
            )
            for kind, keys in (r.examples or {}).items():
                if keys:
                    print(f"{'':<10} {kind}: {', '.join(keys)}")
    return EXIT_OK if all(r.clean for r in reports) else EXIT_FAILED


async def cmd_demo_erp(settings: Settings, args: argparse.Namespace) -> int:
    from core.sources.demo_server import serve

    await serve(settings, args.host, args.port, args.token)
    return EXIT_OK


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "daemon": cmd_daemon,
    "status": cmd_status,
    "sync": cmd_sync,
    "cancel": cmd_cancel,
    "history": cmd_history,
    "pause": _switch(pause=True),
    "resume": _switch(pause=False),
    "priority": cmd_priority,
    "schedule": cmd_schedule,
    "verify": cmd_verify,
    "demo-erp": cmd_demo_erp,
    **API_COMMANDS,
}
