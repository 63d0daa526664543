"""The `syncdeck` command's entry point, and what it does to start fast.

The cyclic garbage collector is paused while the program imports and builds its
first screen, then resumed with everything that exists by then frozen. Importing
Textual and the core allocates a few hundred thousand objects, almost
none of them garbage, yet every allocation burst sets off collections that walk
them all: about a tenth of the time to the console's first frame went there.
Frozen afterwards, they are never walked again, which also keeps later full
collections (and the pauses they cause in the console) short. This is the use
CPython's `gc.freeze()` documents.
"""

from __future__ import annotations

import gc

_paused = False


def pause_gc() -> None:
    """Stop automatic cyclic collection until `resume_gc()` (reference counting goes on)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_gc() -> None:
    """Undo `pause_gc()`, freezing what start-up built; a no-op when nothing was paused."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


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
