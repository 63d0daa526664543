"""The `syncdeck` command's entry point, and what it does to start fast.

The cyclic garbage collector stays paused, and the thread switch interval short, until
start-up is over (why: `console.gc_pause`): headless commands resume as soon as their
arguments and configuration are read; the console, after its first frame. Whatever the
command does, the collector is running again when `main()` returns.
"""

from __future__ import annotations

from console.gc_pause import pause_gc, resume_gc


def main() -> int:
    """`syncdeck`: the command line, with the collector paused until it has started.

    Headless commands resume it as soon as their arguments and configuration are
    read; the console, after its first frame."""
    pause_gc()
    try:
        from console.cli import main as cli_main

        return cli_main()
    finally:
        resume_gc()
