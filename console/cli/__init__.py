"""The `syncdeck` command line: a thin client of the core.

Headless subcommands never import Textual, so they start fast and run where no
terminal UI could. Exit codes: 0 done, 1 a waited sync failed, 2 usage or
configuration error (bad arguments, a bad configuration file, a refusal of the
store, an unknown service, a port in use), 130 interrupted.

The grammar is in `console.cli.parser`, the commands in `console.cli.commands`,
what they print in `console.cli.render`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from console.cli.commands import COMMANDS
from console.cli.parser import EXIT_USAGE, UsageError, build_parser, check_args
from console.cli.render import iso
from console.gc_pause import resume_gc
from core.config import ConfigError, load_settings
from core.errors import StoreError


class IsoFormatter(logging.Formatter):
    """Log times in ISO 8601 with the zone's offset, like the daemon's event lines."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso(datetime.fromtimestamp(record.created))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    handler = logging.StreamHandler()
    handler.setFormatter(IsoFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, handlers=[handler]
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

        try:
            if args.read_only:
                from core.runtime import require_store

                require_store(settings)
            return run_console(settings, read_only=args.read_only)
        except (ConfigError, StoreError) as exc:
            print(f"syncdeck: {exc}", file=sys.stderr)
            return EXIT_USAGE
    resume_gc()  # start-up is over for a headless command (see console.gc_pause)
    command = COMMANDS[args.command]
    try:
        return asyncio.run(command(settings, args))
    except (UsageError, StoreError, LookupError, ConfigError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"syncdeck: {message}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a port in use, an unwritable data directory
        print(f"syncdeck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


__all__ = ["main"]
