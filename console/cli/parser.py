"""The `syncdeck` command line's grammar: options, subcommands and argument checks.

Everything an operator can type is declared here, and every argument that can
be checked without the store is checked here. A bad value becomes argparse's
usage message (exit 2) or a `UsageError`, which `console.cli.main` prints in
one line with exit code 2. Nothing here imports the orchestrator or Textual,
so `syncdeck COMMAND --help` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from console.api.commands import add_commands as add_api_commands
from core.config import limits
from core.models import MAX_PRIORITY, MIN_PRIORITY, SyncMode

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
ERP_TOKEN_ENV = "SYNCDECK_ERP_TOKEN"
"""`demo-erp serve`: the bearer token to require, when neither option gives one."""
EXIT_UNREACHABLE = 3
"""`verify`: the source or the replica could not be read, so nothing was compared (a cron
check must not read that as drift, 1, nor as a usage error, 2)."""


class UsageError(Exception):
    """Bad input from the operator: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what is wrong, and where to read more)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _whole(text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
    return value


def _priority(text: str) -> int:
    return _whole(text, MIN_PRIORITY, MAX_PRIORITY)


def _request_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    if value > limits.MAX_ID:
        raise argparse.ArgumentTypeError(f"no request has an id that large ({text})")
    return value


def _limit(text: str) -> int:
    return _whole(text, 1, limits.MAX_HISTORY_LIMIT)


def _port(text: str) -> int:
    return _whole(text, 0, limits.MAX_PORT)


def _seconds(check: Callable[[object], str | None]) -> Callable[[str], float]:
    """A number of seconds: finite and in the range `check` enforces (`core.config.limits`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        reason = check(value)
        if reason is not None:
            raise argparse.ArgumentTypeError(reason.rpartition(", not ")[0] + f", not {text}")
        return value

    return parse


def _timeout_problem(value: object) -> str | None:
    return limits.problem(value, 0, limits.MAX_WAIT_S, low_open=True, unit="s")


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What one argument's type cannot check: combinations. Exits 2 like argparse."""
    if args.command == "schedule" and args.service is None:
        given = [f"--{n}" for n in ("interval", "offset") if getattr(args, n) is not None]
        given += ["--reset"] if args.reset else []
        if given or args.enabled is not None:
            parser.exit(
                EXIT_USAGE,
                f"{parser.prog} schedule: {(given or ['--enable/--disable'])[0]} needs a "
                f"service (see `{parser.prog} schedule --help`)\n",
            )
    if args.command == "sync" and args.timeout is not None and not args.wait:
        parser.exit(
            EXIT_USAGE,
            f"{parser.prog} sync: --timeout needs --wait (without --wait, sync returns at "
            f"once; see `{parser.prog} sync --help`)\n",
        )


def _common_options(suppress: bool) -> Parser:
    """Options accepted before and after the command. After it they default to
    SUPPRESS, so `syncdeck --data-dir X status` keeps X."""
    default: Any = argparse.SUPPRESS if suppress else None
    common = Parser(add_help=False)
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


def build_parser() -> Parser:
    top = _common_options(suppress=False)
    common = _common_options(suppress=True)

    parser = Parser(
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
    sync.add_argument(
        "--timeout",
        type=_seconds(_timeout_problem),
        metavar="SECONDS",
        help="with --wait: give up after this many seconds",
    )
    sync.add_argument("--json", action="store_true", help="machine-readable output")

    cancel = sub.add_parser("cancel", parents=[common], help="cancel a queued or running request")
    cancel.add_argument("request_id", type=_request_id, metavar="REQUEST_ID")

    probe = sub.add_parser(
        "probe",
        parents=[common],
        help="probe a service's open circuit now, not after its cooldown",
        description="Once the ERP is fixed: the service's open circuit goes half-open and its "
        "queued request (queued now if it has none) may start at once instead of after the "
        "cooldown. That run is the probe: a success closes the circuit, a failure opens it "
        "again with a fresh cooldown. Recorded as a circuit.probe_requested event with who "
        "asked. Exit 0 done, 1 when the circuit is not open (nothing to probe), 2 on a usage "
        "error (an unknown service).",
    )
    probe.add_argument("service")
    probe.add_argument("--json", action="store_true", help="machine-readable output")

    history = sub.add_parser("history", parents=[common], help="finished runs, newest first")
    history.add_argument("service", nargs="?")
    history.add_argument("--limit", type=_limit, default=20)
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
        type=_request_id,
        metavar="REQUEST_ID",
        help="change this queued request's priority instead of the default",
    )
    sched = sub.add_parser(
        "schedule",
        parents=[common],
        help="the schedule's timeline, or override a service's schedule (persisted)",
        description="With no service: the next fires of every service for one whole period "
        "of the schedule, with the gaps between them and whether schedule.stagger_s holds. "
        "With a service: change when the schedule requests its sync. Overrides persist in the "
        "store and win over the configuration; --reset returns to the configuration.",
    )
    sched.add_argument("service", nargs="?")
    sched.add_argument("--interval", type=_seconds(limits.interval_problem), metavar="SECONDS")
    sched.add_argument("--offset", type=_seconds(limits.offset_problem), metavar="SECONDS")
    toggle = sched.add_mutually_exclusive_group()
    toggle.add_argument("--enable", dest="enabled", action="store_true", default=None)
    toggle.add_argument("--disable", dest="enabled", action="store_false")
    sched.add_argument("--reset", action="store_true", help="drop every override")
    sched.add_argument("--json", action="store_true", help="machine-readable output")

    verify = sub.add_parser(
        "verify",
        parents=[common],
        help="compare the replica with the source; exit 1 on drift",
        description="List every record of the source and compare it with the replica by key. "
        "Rows changed in the source since the replica's cursor are pending (the next sync "
        "brings them), rows the source no longer lists are pending deletion (until the next "
        "full sync); rows missing or different below the cursor are drift. Exit 0 in sync "
        "(pending allowed), 1 on drift, 2 on a usage or configuration error, 3 when the "
        "source or the replica cannot be read.",
    )
    verify.add_argument("service", nargs="?", help="one service (default: all four)")
    verify.add_argument("--json", action="store_true", help="machine-readable output")

    sources = sub.add_parser("sources", parents=[common], help="the ERP sources in [sources]")
    sources_sub = sources.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    check = sources_sub.add_parser(
        "check",
        parents=[common],
        help="check each mapping against its database; exit 2 on a configuration problem, "
        "3 when a source cannot be reached",
        description="Connect to every source, run each entity's table or query, check that "
        "its columns exist and fit their kinds, that its key is unique and its cursor is "
        "never NULL; print three mapped sample rows and an estimate of a full pass. Exit 0 "
        "when all is well, 2 on a configuration or mapping problem, 3 when a source cannot "
        "be reached.",
    )
    check.add_argument("entity", nargs="?", help="one configured entity (default: all)")

    replica = sub.add_parser("replica", parents=[common], help="the replica's tables")
    replica_sub = replica.add_subparsers(dest="replica_command", metavar="ACTION", required=True)
    rebuild = replica_sub.add_parser(
        "rebuild",
        parents=[common],
        help="drop a configured entity's replica tables; its next run rebuilds them in full",
    )
    rebuild.add_argument("entity", help="a configured entity ([entities.NAME])")

    demo = sub.add_parser("demo-erp", parents=[common], help="the embedded demo ERP")
    demo_sub = demo.add_subparsers(dest="demo_command", metavar="ACTION", required=True)
    serve = demo_sub.add_parser(
        "serve",
        parents=[common],
        help="serve the demo ERP over HTTP (the REST JSON API the http source reads)",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8765)
    secret = serve.add_mutually_exclusive_group()
    secret.add_argument(
        "--token",
        help="require this bearer token (visible in `ps`: prefer --token-file or $"
        f"{ERP_TOKEN_ENV})",
    )
    secret.add_argument(
        "--token-file", type=Path, metavar="FILE", help="require the bearer token in FILE"
    )
    add_api_commands(sub, common)
    return parser
