"""`syncdeck daemon` with freeze hooks installed: what freeze tests start in its place.

It builds what the command builds (`console.cli.daemon.run_daemon`, settings
from the environment), with the hooks of `support.freeze` in its store and
services, so a test can stop it at a chosen point. `command()` and `environ()`
start it from any directory. Failures: those of `syncdeck daemon`, as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from console.cli import configure_logging
from console.cli.daemon import run_daemon
from core.config import load_settings
from core.runtime import Hooks
from support.freeze import Freezer, freeze_in_tx

TESTS = Path(__file__).resolve().parent.parent


def command(*flags: str) -> list[str]:
    """The command line that starts this launcher with `flags` (run it with `environ()`)."""
    return [sys.executable, "-m", "support.frozen_daemon", *flags]


def environ(env: dict[str, str]) -> dict[str, str]:
    """`env` with the tests' directory on the module path, so `command()` finds this module."""
    path = [str(TESTS), *filter(None, [env.get("PYTHONPATH")])]
    return {**env, "PYTHONPATH": os.pathsep.join(path)}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the freeze flags, install their hooks, run the daemon: its exit code."""
    parser = argparse.ArgumentParser(prog="frozen_daemon", description=__doc__)
    parser.add_argument(
        "--freeze-before-batch",
        type=int,
        metavar="N",
        help="stop before writing the Nth batch of each run, outside every transaction",
    )
    parser.add_argument(
        "--freeze-in-tx",
        type=Path,
        metavar="MARKER",
        help="when MARKER exists, remove it and stop inside the write transaction just begun",
    )
    args = parser.parse_args(argv)
    freezer = Freezer()
    nth, marker = args.freeze_before_batch, args.freeze_in_tx
    hooks = Hooks(
        before_batch_commit=None if nth is None else freezer.before_batch(nth),
        after_write_begin=None if marker is None else freeze_in_tx(marker),
        on_open=freezer.hold,
        on_close=freezer.release,
    )
    configure_logging(verbose=False)
    return asyncio.run(run_daemon(load_settings(), hooks))


if __name__ == "__main__":
    sys.exit(main())
