"""Every key of the console, defined once, with where it acts.

The same table feeds the bindings (and so the footer), the help screen, the
command palette (`console.tui.palette`, from the same actions) and read-only mode.
A key acts on what the focused pane shows: `where` names the places it acts in
(the main view's panes, by focus, and a service's history). The footer shows a
key exactly where it acts (`shown`); pressed in a pane where it does not act, the
main view says where it does (`elsewhere`) instead of acting on a selection the
operator cannot see. A key marked `anywhere` is the app's binding and works over
the history too; the others are the main view's (`console.tui.screens.main`).
Every label names the action the key takes: a toggle's says what pressing it
does now (`label_paused` while what it toggles is paused). Keys that share a
`group` share one footer label when the footer is short of room ("f/i/a Sync").
A read-only console keeps every key bound, hides the `mutating` ones from the
footer, help and palette, and answers them with a notice (`READ_ONLY`).

Failures: none at run time; a table entry naming an unknown place fails its
type check (mypy), and `bindings` builds Textual's bindings once, at import.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from textual.binding import Binding, BindingType

Place = Literal["services", "queue", "events", "history"]
Condition = Literal["circuit_open"]
"""What may have to hold for the focused row before the footer shows a key (`only_when`)."""
PANES: tuple[Place, ...] = ("services", "queue", "events")
"""The main view's focusable panes, in tab order."""
EVERYWHERE: tuple[Place, ...] = (*PANES, "history")
PLACE_NAMES: dict[Place, str] = {
    "services": "Services",
    "queue": "the Queue",
    "events": "Events",
    "history": "a history",
}
READ_ONLY = "read-only console"
"""What a mutating key answers in a read-only console."""


class KeyAction(msgspec.Struct, frozen=True, kw_only=True):
    """One key and what it does; built with keywords only, so each entry says what it sets."""

    keys: str
    """Textual key names, comma-separated."""
    action: str
    label: str
    """Short label for the footer: the action the key takes."""
    help: str
    """One line for the help screen and the command palette."""
    display: str
    """How the key is written on the help screen."""
    mutating: bool = False
    where: tuple[Place, ...] = PANES
    """Where the key acts: the main view's panes (by focus) and a history."""
    footer: bool = True
    """Whether the footer shows it (where it acts)."""
    group: str = ""
    """The label that neighbouring keys of the same group share when room is short."""
    label_paused: str = ""
    """A toggle's label while what it toggles is paused."""
    anywhere: bool = False
    """The app's binding: works over the history too. Otherwise the main view's only."""
    only_when: Condition | None = None
    """The footer shows it only while this holds for the focused row (`circuit_open`: the
    row's service's circuit is open). Pressed anyway, it says why it does nothing."""

    @property
    def name(self) -> str:
        """The action's name, without its arguments (`sync` for `sync('full')`)."""
        return self.action.split("(")[0]


ACTIONS: tuple[KeyAction, ...] = (
    KeyAction(
        keys="f",
        action="sync('full')",
        label="Full",
        help="Request a full sync of the row's service",
        display="f",
        mutating=True,
        where=("services", "queue"),
        group="Sync",
    ),
    KeyAction(
        keys="i",
        action="sync('incremental')",
        label="Incr",
        help="Request an incremental sync of the row's service",
        display="i",
        mutating=True,
        where=("services", "queue"),
        group="Sync",
    ),
    KeyAction(
        keys="a",
        action="sync('auto')",
        label="Auto",
        help="Request an auto sync (full or incremental, as needed)",
        display="a",
        mutating=True,
        where=("services", "queue"),
        group="Sync",
    ),
    KeyAction(
        keys="r",
        action="probe",
        label="Probe",
        help="Probe the row's open circuit now: skip the cooldown",
        display="r",
        mutating=True,
        where=("services", "queue"),
        group="Sync",
        only_when="circuit_open",
    ),
    KeyAction(
        keys="c",
        action="cancel",
        label="Cancel",
        help="Cancel the row's request; asks first if it is running",
        display="c",
        mutating=True,
        where=("services", "queue"),
    ),
    KeyAction(
        keys="plus,equals_sign",
        action="priority(1)",
        label="Raise",
        help="Raise the selected queue entry's priority by one",
        display="+",
        mutating=True,
        where=("queue",),
        group="Prio",
    ),
    KeyAction(
        keys="minus",
        action="priority(-1)",
        label="Lower",
        help="Lower the selected queue entry's priority by one",
        display="-",
        mutating=True,
        where=("queue",),
        group="Prio",
    ),
    KeyAction(
        keys="h",
        action="history",
        label="History",
        help="History of the row's service",
        display="h",
        where=("services", "queue"),
    ),
    KeyAction(
        keys="slash",
        action="filter",
        label="Filter",
        help="Filter the event log (or the runs) as you type",
        display="/",
        where=("events", "history"),
        anywhere=True,
    ),
    KeyAction(
        keys="o",
        action="sort",
        label="Sort",
        help="Cycle the sort (services: name, health, next run, …)",
        display="o",
        where=("services", "history"),
        group="Sort",
        anywhere=True,
    ),
    KeyAction(
        keys="O",
        action="sort_reverse",
        label="Reverse",
        help="Reverse the sort direction",
        display="O",
        where=("services", "history"),
        group="Sort",
        anywhere=True,
    ),
    KeyAction(
        keys="p",
        action="toggle_dispatch",
        label="Pause",
        label_paused="Resume",
        help="Pause or resume dispatching",
        display="p",
        mutating=True,
    ),
    KeyAction(
        keys="s",
        action="toggle_schedule",
        label="Pause sched",
        label_paused="Resume sched",
        help="Pause or resume the schedule; keys still request syncs",
        display="s",
        mutating=True,
    ),
    KeyAction(
        keys="escape",
        action="clear_filter",
        label="Clear",
        help="Clear the log's filter; elsewhere, close or go back",
        display="escape",
        where=EVERYWHERE,
        footer=False,
    ),
    KeyAction(
        keys="question_mark",
        action="help",
        label="Help",
        help="Show every key",
        display="?",
        where=EVERYWHERE,
        anywhere=True,
    ),
    KeyAction(
        keys="q",
        action="quit_console",
        label="Quit",
        help="Quit (asks first during a sync); elsewhere, back",
        display="q",
        where=EVERYWHERE,
        anywhere=True,
    ),
)

NAVIGATION: tuple[tuple[str, str, str], ...] = (
    ("up / down, k / j", "everywhere", "Move the selection; in help, scroll (and pgup / pgdn)"),
    ("tab / shift+tab", "main view", "Move between panes: Services, Queue, Events"),
    ("enter", "everywhere", "Details of the selected service, queue entry or run"),
    ("ctrl+p", "everywhere", "Command palette: every action by name"),
)
"""The keys that are not actions of the table: (keys, where, what)."""

KEYS: dict[str, KeyAction] = {a.action: a for a in ACTIONS}
"""Each entry by its action, arguments included (`sync('full')`)."""
MUTATING_ACTIONS = frozenset(a.name for a in ACTIONS if a.mutating)


def acts(action: str, place: Place) -> bool:
    """Whether the key of `action` acts at `place` (an action not in the table: yes)."""
    key = KEYS.get(action)
    return key is None or place in key.where


def shown(
    action: str,
    place: Place,
    *,
    read_only: bool = False,
    holds: frozenset[Condition] = frozenset(),
) -> bool:
    """Whether the footer at `place` shows the key of `action`: exactly where it acts, while
    its `only_when` is among what `holds` for the focused row, and never a mutating key in
    a read-only console (an action not in the table: yes)."""
    key = KEYS.get(action)
    if key is None:
        return True
    if key.only_when is not None and key.only_when not in holds:
        return False
    return key.footer and place in key.where and not (read_only and key.mutating)


def where_text(key: KeyAction) -> str:
    """The places a key acts in, for the help screen."""
    if key.where == EVERYWHERE:
        return "everywhere"
    if key.where == PANES:
        return "main view"
    return ", ".join(place for place in key.where)


def elsewhere(action: str) -> str:
    """What a key pressed where it does not act says: where it acts."""
    key = KEYS[action]
    panes = [PLACE_NAMES[p] for p in key.where if p in PANES]
    return f"{key.display} works in {' or '.join(panes)}: tab moves between panes."


def label(action: str, text: str, paused: bool) -> str:
    """A key's footer label: a toggle's while what it toggles is paused, else `text`."""
    key = KEYS.get(action)
    return key.label_paused if key is not None and paused and key.label_paused else text


def bindings(*, anywhere: bool) -> list[BindingType]:
    """The bindings of the keys marked `anywhere` (the app's), or of the others (the main
    view's), in the table's order; keys of one group share one `Binding.Group`."""
    groups = {a.group: Binding.Group(a.group) for a in ACTIONS if a.group}
    return [
        Binding(
            a.keys,
            a.action,
            a.label,
            show=a.footer,
            key_display=a.display,
            group=groups.get(a.group),
        )
        for a in ACTIONS
        if a.anywhere is anywhere
    ]
