"""Every key of the console, defined once.

The same table feeds the app's bindings (and so the footer), the help screen,
and read-only mode (which hides every action marked `mutating`). Palette
commands are built in `console.tui.palette` from the same actions. A label that
depends on state (`p Resume` while paused, `s Sched off`) comes from
`ConsoleActions.key_label`, which the footer asks.
"""

from __future__ import annotations

import msgspec
from textual.binding import Binding


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
    """Works over other screens too (history, details); otherwise main view only."""


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
MAIN_VIEW_ACTIONS = frozenset(a.action.split("(")[0] for a in ACTIONS if not a.anywhere)
"""Actions on the main view's selection and state: off while another screen is on top."""


def bindings() -> list[Binding]:
    return [
        Binding(a.keys, a.action, a.label, show=a.footer, key_display=a.display) for a in ACTIONS
    ]
