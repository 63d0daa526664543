"""`python bench/firstframe.py console` or `python bench/firstframe.py hello CODE`: syncdeck's
console, or the Textual hello world whose source is CODE (bench/paint.py's), ended the
moment its first frame is handed to the terminal, so that a counter of executed
instructions (callgrind, in part (c) of bench/console.py) stops there.

The console starts as `syncdeck` does (`console.startup.main`), the collector paused before
Textual or syncdeck is imported; the hook is on Textual's `App._display`. In both programs
that first frame is the whole first screen (part (c) checks the markers in its
wall-clock runs)."""

from __future__ import annotations

import os
import sys
from typing import Any


def end_at_first_frame() -> None:
    from textual.app import App

    display = App._display

    def first_and_last(self: App[Any], screen: Any, renderable: Any) -> None:
        display(self, screen, renderable)
        if renderable is not None:
            os._exit(0)

    App._display = first_and_last  # type: ignore[method-assign]


if __name__ == "__main__":
    # As under `python -m console`: the repository first (bench/console.py would hide the
    # `console` package).
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if sys.argv[1] == "hello":
        end_at_first_frame()
        exec(compile(sys.argv[2], "hello", "exec"))
    else:
        from console.gc_pause import pause_gc

        pause_gc()  # as `console.startup.main` does first (it pauses only once)
        end_at_first_frame()
        from console.startup import main

        sys.argv = ["syncdeck"]
        main()
