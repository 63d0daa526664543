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


class KeyAction(msgspec.Struct, frozen=True, kw_only=True):
    """One key and what it does; built with keywords only, so each entry says what it sets."""

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
        keys="f",
        action="sync('full')",
        label="Full",
        help="Request a full sync of the selected service",
        display="f",
        mutating=True,
    ),
    KeyAction(
        keys="i",
        action="sync('incremental')",
        label="Incr",
        help="Request an incremental sync of the selected service",
        display="i",
        mutating=True,
    ),
    KeyAction(
        keys="a",
        action="sync('auto')",
        label="Auto",
        help="Request an auto sync (full or incremental)",
        display="a",
        mutating=True,
    ),
    KeyAction(
        keys="c",
        action="cancel",
        label="Cancel",
        help="Cancel the selected queue entry, or the running sync (asks first)",
        display="c",
        mutating=True,
    ),
    KeyAction(
        keys="plus,equals_sign",
        action="priority(1)",
        label="Prio+",
        help="Raise the selected queue entry's priority",
        display="+",
        mutating=True,
        footer=False,
    ),
    KeyAction(
        keys="minus",
        action="priority(-1)",
        label="Prio-",
        help="Lower the selected queue entry's priority",
        display="-",
        mutating=True,
        footer=False,
    ),
    KeyAction(
        keys="p",
        action="toggle_dispatch",
        label="Pause",
        help="Pause or resume dispatching",
        display="p",
        mutating=True,
    ),
    KeyAction(
        keys="s",
        action="toggle_schedule",
        label="Schedule",
        help="Pause or resume the schedule",
        display="s",
        mutating=True,
    ),
    KeyAction(
        keys="h",
        action="history",
        label="History",
        help="History of the selected service",
        display="h",
    ),
    KeyAction(
        keys="slash",
        action="filter",
        label="Filter",
        help="Filter the event log (or the history) as you type; escape clears",
        display="/",
        footer=False,
        anywhere=True,
    ),
    KeyAction(
        keys="o",
        action="sort",
        label="Sort",
        help="Sort the services (or the history) by the next column",
        display="o",
        footer=False,
        anywhere=True,
    ),
    KeyAction(
        keys="O",
        action="sort_reverse",
        label="Reverse",
        help="Reverse the sort direction",
        display="O",
        footer=False,
        anywhere=True,
    ),
    KeyAction(
        keys="escape",
        action="clear_filter",
        label="Clear",
        help="Clear the filter; on other screens, go back",
        display="escape",
        footer=False,
    ),
    KeyAction(
        keys="question_mark",
        action="help",
        label="Help",
        help="Show every key",
        display="?",
        anywhere=True,
    ),
    KeyAction(
        keys="q",
        action="quit_console",
        label="Quit",
        help="Quit (asks first if a sync would be interrupted); elsewhere: back",
        display="q",
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
