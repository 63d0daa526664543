"""The `syncdeck` command line: a thin client of the core.

Headless subcommands never import Textual, so they start fast and run where no
terminal UI could. Exit codes: 0 done, 1 a waited sync failed (or a probe found
its circuit not open: nothing was done), 2 usage or configuration error (bad
arguments, a bad configuration file, a refusal of the store, an unknown service, a
port in use), 130 interrupted.

The grammar is in `console.cli.parser`, the commands in `console.cli.commands`,
what they print in `console.cli.render`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from console.gc_pause import resume_gc
from core.config import ConfigError, load_settings
from core.errors import StoreError

BARE = {
    "command": None,
    "data_dir": None,
    "config": None,
    "profile": None,
    "verbose": False,
    "read_only": False,
}
"""What the parser makes of the bare `syncdeck` (no arguments: the console). That command
skips argparse and the subcommands' modules, a few milliseconds of its first frame;
a test holds this to `build_parser().parse_args([])`."""


class IsoFormatter(logging.Formatter):
    """Log times in ISO 8601 with the zone's offset, like the daemon's event lines."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        from console.cli.render import iso

        return iso(datetime.fromtimestamp(record.created))


def parse_args(argv: Sequence[str] | None = None) -> Any:
    """The parsed command line (argparse's usage errors exit 2, as argparse does)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        return SimpleNamespace(**BARE)
    from console.cli.parser import build_parser, check_args

    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    return args


def configure_logging(verbose: bool) -> None:
    """Log lines on stderr, ISO 8601 times; warnings and worse unless `verbose`."""
    handler = logging.StreamHandler()
    handler.setFormatter(IsoFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.verbose)
    try:
        overrides: dict[str, Any] = {}
        if args.profile:
            overrides["profile"] = args.profile
        settings = load_settings(args.config, args.data_dir, **overrides)
    except ConfigError as exc:
        return _usage_error(exc)
    if args.command is None:
        from console.tui.launch import run_console  # Textual is imported only here

        try:
            if args.read_only:
                from core.runtime import require_store

                require_store(settings)
            return run_console(settings, read_only=args.read_only)
        except (ConfigError, StoreError) as exc:
            return _usage_error(exc)
    resume_gc()  # start-up is over for a headless command (see console.gc_pause)
    from console.cli.commands import COMMANDS
    from console.cli.parser import UsageError

    command = COMMANDS[args.command]
    try:
        return asyncio.run(command(settings, args))
    except (UsageError, StoreError, LookupError, ConfigError) as exc:
        return _usage_error(exc.args[0] if exc.args else str(exc))
    except BrokenPipeError:  # `syncdeck history | head`: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as exc:  # a port in use, an unwritable data directory
        return _usage_error(exc)
    except KeyboardInterrupt:
        return 130


def _usage_error(message: object) -> int:
    """One line on stderr; exit code 2."""
    from console.cli.parser import EXIT_USAGE

    print(f"syncdeck: {message}", file=sys.stderr)
    return EXIT_USAGE


__all__ = ["configure_logging", "main"]
