"""The real console in a small real terminal (issue 21, item 12): `syncdeck` in tmux at 60x20,
then shrunk below the minimum and grown back, with the helpers of `test_console_e2e`.

At 60x20 the console used to lose its result and rows columns, show a scrollbar for the
whole screen, drop `h ? q` from the footer, cut the help mid-word and the header's
fields too ("runner: this conso…"). Wanted: a compact layout that keeps the service,
its state and health, and the active sync, whole; below the documented minimum
(50x16), one line saying the size needed.

Skipped, with the reason, when tmux is not installed (`apt-get install tmux`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import test_console_e2e
from test_console_e2e import (
    HEADER_FIELD,
    STARTUP_S,
    SYNC_S,
    Console,
    header_fields,
    row,
    services_listed,
)

from console.tui.keys import ACTIONS, NAVIGATION, where_text

pytestmark = test_console_e2e.pytestmark

console_env = test_console_e2e.console_env
start_console = test_console_e2e.start_console
"""The fixtures of `test_console_e2e`: the same console, environment and teardown."""

WIDTH, HEIGHT = 60, 20
RIGHT_EDGES = "│┃╮┓"
"""What ends a pane's line at the terminal's last column: its border, not a scrollbar."""
STATES = {"idle", "queued", "running", "stalled", "orphan", "backoff", "circuit", "probe"}
HEALTHS = {"healthy", "degraded", "unhealthy"}
HELP_WORDS = {
    word
    for line in [
        *(" ".join(n) for n in NAVIGATION),
        *(f"{a.display} {where_text(a)} {a.help}" for a in ACTIONS),
        "syncdeck keys j/k scroll · escape closes",
    ]
    for word in line.split()
}


def problems(screen: str) -> list[str]:
    """What is not whole in the compact main view on `screen`: the header's fields, the
    panes' right edges, the services' state and health, the footer's keys."""
    lines = screen.splitlines()
    found = []
    fields = header_fields(screen)
    if not all(HEADER_FIELD.match(f) and "…" not in f for f in fields):
        found.append(f"a header field cut: {fields}")
    for n, line in enumerate(lines[1:-1], start=1):
        if len(line) != WIDTH or line[-1] not in RIGHT_EDGES:
            found.append(f"line {n} does not end with its pane's border: {line!r}")
    for name in ("orders", "customers", "products", "prices"):
        cells = (row(screen, name) or "").split()
        if len(cells) < 4 or cells[2] not in STATES or cells[3] not in HEALTHS:
            found.append(f"no state and health for {name}: {cells}")
    footer = lines[-1] if lines else ""
    keys = ("h History", "? Help", "q Quit")
    return found + [f"no {key!r} in the footer {footer!r}" for key in keys if key not in footer]


def help_cut_words(screen: str) -> list[str]:
    """The words in the help's box that are not whole words of the help."""
    box = [line.strip(" █▀▄") for line in screen.splitlines() if line.startswith("█")]
    shown = [word.removesuffix("…") for line in box for word in line.split()]
    return [w for w in shown if w and w not in HELP_WORDS and not re.fullmatch(r"[▀▄▁-█]+", w)]


def whole(screen: str) -> None:
    found = problems(screen)
    assert found == [], "\n".join([*found, screen])


def resize(console: Console, width: int, height: int) -> None:
    console.tmux("resize-window", "-t", console.name, "-x", str(width), "-y", str(height))


def test_at_60x20_the_console_is_compact_and_whole_and_too_small_says_the_size_needed(
    start_console: Callable[..., Console],
) -> None:
    console = start_console("compact", size=(WIDTH, HEIGHT))
    console.wait_for("services pane listing all four services", services_listed, STARTUP_S)
    screen = console.wait_for(
        "'runner: this console'", lambda s: "runner: this console" in s, STARTUP_S
    )
    whole(screen)

    console.press("f")
    done = console.wait_for(
        "orders succeeded in the services pane",
        lambda s: "succeeded" in (row(s, "orders") or ""),
        SYNC_S,
    )
    whole(done)
    active = next(i for i, line in enumerate(done.splitlines()) if "Active sync" in line)
    assert "No sync running" in done.splitlines()[active + 1], done

    console.press("?")
    shown = console.wait_for("the help", lambda s: "syncdeck keys" in s, STARTUP_S)
    assert help_cut_words(shown) == [], shown
    console.press("Escape")
    console.wait_for("the main view again", lambda s: "syncdeck keys" not in s, STARTUP_S)

    resize(console, 40, 12)
    small = console.wait_for("the size notice", lambda s: "syncdeck needs 50x16" in s, STARTUP_S)
    assert [line for line in small.splitlines() if line.strip()] == [
        "Terminal too small: syncdeck needs 50x16"
    ], small
    resize(console, WIDTH, HEIGHT)
    # The tables lay their columns out again after the resize: wait for the last run's.
    back = console.wait_for(
        "the main view back, with its columns",
        lambda s: services_listed(s) and "succeeded" in (row(s, "orders") or ""),
        STARTUP_S,
    )
    whole(back)

    console.press("q")
    assert console.wait_exit(STARTUP_S) == 0, console.screen()
