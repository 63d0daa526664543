"""A scrolling box for help and detail texts that the keys scroll as the tables' do.

Textual's `VerticalScroll` scrolls with the arrows, pgup/pgdn, home and end while
it has focus; this one also takes `j` and `k`, as the console's tables do, and
takes focus when its screen opens, so those keys work at once.

Failures: none.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll


class KeyScroll(VerticalScroll):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
    ]

    def on_mount(self) -> None:
        self.focus()
