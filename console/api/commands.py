"""The command line's `serve` and `token`: their arguments and handlers.

Importing this module imports no web framework and no JWT library: `console.cli`
imports it for every command, and only `serve` (FastAPI, uvicorn) and `token`
(pyjwt) load theirs. Bad input is one line on stderr and exit 2, like the rest
of the CLI: argparse for the arguments, `ConfigError` and `OSError` here.
"""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from console.api.limits import MAX_TOKEN_TTL_S
from core.config import ConfigError, Settings

EXIT_OK = 0
EXIT_USAGE = 2

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> float:
    """`90`, `90s`, `15m`, `1h`, `7d` in seconds: positive, at most a year."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration (like 90s, 15m, 1h, 7d): {text!r}")
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if not 1 <= seconds <= MAX_TOKEN_TTL_S:
        raise argparse.ArgumentTypeError(f"must be between 1s and {MAX_TOKEN_TTL_S // 86400}d")
    return seconds


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535 (0: any free port)")
    return value


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `serve` and `token` to the CLI's subparsers; `common` are its shared options."""
    serve = sub.add_parser(
        "serve",
        parents=[common],
        help="run the orchestrator with the HTTP API",
        description="Run the orchestrator (a runner, like `daemon`, unless --no-runner) and "
        "the HTTP API until SIGINT or SIGTERM. Defaults: [api] host and port.",
    )
    serve.add_argument("--host", help="address to listen on (default: [api] host, 127.0.0.1)")
    serve.add_argument("--port", type=port, help="port (default: [api] port, 8787; 0: any)")
    serve.add_argument(
        "--no-runner", action="store_true", help="serve the API only; never run syncs here"
    )
    token = sub.add_parser(
        "token",
        parents=[common],
        help="print an API token signed with the configured secret",
        description="Print a JWT for the HTTP API, signed with [api] jwt_secret "
        "(or jwt_secret_file, or SYNCDECK_API__JWT_SECRET).",
    )
    token.add_argument("--scope", choices=["read", "operate"], required=True)
    token.add_argument("--ttl", type=duration, default=3600.0, help="lifetime (default: 1h)")
    token.add_argument("--sub", help="the token's subject (default: your user name)")


async def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from console.api.serve import serve  # FastAPI and uvicorn are imported only here

    host = args.host if args.host is not None else settings.api.host
    port_ = args.port if args.port is not None else settings.api.port
    try:
        await serve(settings, host, port_, runner=not args.no_runner)
    except ConfigError as exc:
        print(f"syncdeck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"syncdeck: cannot listen on {host}:{port_}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


async def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    from console.api.token import mint  # pyjwt is imported only here

    subject = args.sub or _user()
    try:
        print(mint(settings.api, args.scope, args.ttl, subject))
    except ConfigError as exc:
        print(f"syncdeck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "syncdeck"


API_COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "serve": cmd_serve,
    "token": cmd_token,
}
