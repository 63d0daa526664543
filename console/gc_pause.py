"""Pausing the cyclic garbage collector while the program starts, and resuming it;
with it, a short thread switch interval until the first frame is out.

The cyclic garbage collector is paused while the program imports and builds its
first screen, then resumed with everything that exists by then frozen. Importing
Textual and the core allocates a few hundred thousand objects, almost
none of them garbage, yet every allocation burst sets off collections that walk
them all: about a tenth of the time to the console's first frame went there.
Frozen afterwards, they are never walked again, which also keeps later full
collections (and the pauses they cause in the console) short. This is the use
CPython's `gc.freeze()` documents.

Meanwhile the interpreter's thread switch interval is STARTUP_SWITCH_INTERVAL, not
its default 5 ms. Textual hands each frame's bytes to its writer thread; with the
event loop busy right after the first frame (the next ones, the core's first
calls), that thread waited up to the whole default interval for the GIL, so the
first frame reached the terminal about 4 ms after it was built. Resuming restores
the interval the program had.

It imports nothing of the console, so the entry point (`console.startup`), the
command line and the app can all reach it without tying themselves into a circle.
Neither call fails; resuming when nothing was paused does nothing.
"""

from __future__ import annotations

import gc
import sys

STARTUP_SWITCH_INTERVAL = 0.0005
"""Seconds: how long another thread waits at most for the GIL while the program starts."""

_paused = False
_switch_interval: float | None = None
"""The interval to restore on resuming (None: not changed)."""


def pause_gc() -> None:
    """Stop automatic cyclic collection until `resume_gc()` (reference counting goes on),
    and shorten the thread switch interval until then."""
    global _paused, _switch_interval
    if gc.isenabled():
        gc.disable()
        _paused = True
    if _switch_interval is None:
        _switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(_switch_interval, STARTUP_SWITCH_INTERVAL))


def resume_gc() -> None:
    """Undo `pause_gc()`, freezing what start-up built; a no-op when nothing was paused."""
    global _paused, _switch_interval
    if _switch_interval is not None:
        sys.setswitchinterval(_switch_interval)
        _switch_interval = None
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
