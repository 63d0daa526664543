"""Pausing the cyclic garbage collector while the program starts, and resuming it.

The cyclic garbage collector is paused while the program imports and builds its
first screen, then resumed with everything that exists by then frozen. Importing
Textual and the core allocates a few hundred thousand objects, almost
none of them garbage, yet every allocation burst sets off collections that walk
them all: about a tenth of the time to the console's first frame went there.
Frozen afterwards, they are never walked again, which also keeps later full
collections (and the pauses they cause in the console) short. This is the use
CPython's `gc.freeze()` documents.

It imports nothing of the console, so the entry point (`console.startup`), the
command line and the app can all reach it without tying themselves into a circle.
Neither call fails; resuming when nothing was paused does nothing.
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
