"""Every key of the console, defined once.

The same table feeds the bindings (and so the footer), the help screen, and
read-only mode (which hides every action marked `mutating`). A key marked
`anywhere` is the app's binding and works over the history too; the others are
the main view's (`console.tui.screens.main`), so Textual offers them only there.
Palette commands are built in `console.tui.palette` from the same actions. A
label that depends on state (`p Resume` while paused, `s Sched off`) comes from
the screen's `key_label`, which the footer asks.
"""

from __future__ import annotations

import msgspec
from textual.binding import Binding, BindingType


class KeyAction(msgspec.Struct, frozen=True):
    keys: str
    """Textual key names, comma-separated."""
    action: str
    label: str
    """Short label for the footer."""
    help: str
    """One line for the help screen and the command palette."""
    display: str
    """How the key is written on the help screen."""
    mutating: bool = False
    footer: bool = True
    anywhere: bool = False
    """The app's binding: works over the history too. Otherwise the main view's only."""


ACTIONS: tuple[KeyAction, ...] = (
    KeyAction(
        "f", "sync('full')", "Full", "Request a full sync of the selected service", "f", True
    ),
    KeyAction(
        "i",
        "sync('incremental')",
        "Incr",
        "Request an incremental sync of the selected service",
        "i",
        True,
    ),
    KeyAction("a", "sync('auto')", "Auto", "Request an auto sync (full or incremental)", "a", True),
    KeyAction(
        "c",
        "cancel",
        "Cancel",
        "Cancel the selected queue entry, or the running sync (asks first)",
        "c",
        True,
    ),
    KeyAction(
        "plus,equals_sign",
        "priority(1)",
        "Prio+",
        "Raise the selected queue entry's priority",
        "+",
        True,
        footer=False,
    ),
    KeyAction(
        "minus",
        "priority(-1)",
        "Prio-",
        "Lower the selected queue entry's priority",
        "-",
        True,
        footer=False,
    ),
    KeyAction("p", "toggle_dispatch", "Pause", "Pause or resume dispatching", "p", True),
    KeyAction("s", "toggle_schedule", "Schedule", "Pause or resume the schedule", "s", True),
    KeyAction("h", "history", "History", "History of the selected service", "h"),
    KeyAction(
        "slash",
        "filter",
        "Filter",
        "Filter the event log (or the history) as you type; escape clears",
        "/",
        footer=False,
        anywhere=True,
    ),
    KeyAction(
        "o",
        "sort",
        "Sort",
        "Sort the services (or the history) by the next column",
        "o",
        footer=False,
        anywhere=True,
    ),
    KeyAction(
        "O",
        "sort_reverse",
        "Reverse",
        "Reverse the sort direction",
        "O",
        footer=False,
        anywhere=True,
    ),
    KeyAction(
        "escape",
        "clear_filter",
        "Clear",
        "Clear the filter; on other screens, go back",
        "escape",
        footer=False,
    ),
    KeyAction("question_mark", "help", "Help", "Show every key", "?", anywhere=True),
    KeyAction(
        "q",
        "quit_console",
        "Quit",
        "Quit (asks first if a sync would be interrupted); elsewhere: back",
        "q",
        anywhere=True,
    ),
)

NAVIGATION: tuple[tuple[str, str], ...] = (
    ("up / down, k / j", "Select a service, or a queue entry when the queue has focus"),
    ("tab / shift+tab", "Move between panes"),
    ("ctrl+p", "Command palette: every action by name"),
    ("enter", "Details: of the selected service (health, circuit cooldown end) or run"),
    ("escape", "Close a screen, dialog or detail view; clear a filter"),
)

MUTATING_ACTIONS = frozenset(a.action.split("(")[0] for a in ACTIONS if a.mutating)


def bindings(*, anywhere: bool) -> list[BindingType]:
    """The bindings of the keys marked `anywhere` (the app's), or of the others (the main
    view's), in the table's order."""
    return [
        Binding(a.keys, a.action, a.label, show=a.footer, key_display=a.display)
        for a in ACTIONS
        if a.anywhere is anywhere
    ]
