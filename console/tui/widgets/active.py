"""The active sync, or why nothing runs.

While a sync runs: service, mode and why, request, try and elapsed on the first
line; the phase, a progress bar, rows and rows/s (`short_count`, the main view's one
format for rows) and ETA on the second. A run that is not running as it should
(`ActiveRun.note`: stalled, no progress for `stall_s`; orphaned, its runner gone) says
so first on the second line, and its figures follow without a rate or an ETA: they
are not current. The second line always shows, and neither ever wraps: each is made
of fields that a narrow pane leaves out whole, the least important first (the auto
reason, the bar, the rate), or cuts between two words (`console.tui.fit`).
While nothing runs and requests wait, the snapshot's `idle_reason` says why (no
runner alive, dispatch paused, the circuit or backoff and until when, the store
refusing writes); the store's trouble ("store unwritable: <reason>") shows even
with nothing queued.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from console.format import bar, clock, duration, short_count
from console.tui.fit import Field, fit_fields
from console.tui.layout import Pane
from core.models import Snapshot, SyncMode

REASON_STYLE = {"paused": "bold yellow", "backoff": "yellow"}
IDLE_ACTIONS = {"paused": "resume with p"}
"""What an operator at the console does about an idle reason, by its kind."""
CONDITION_STYLE = {"stalled": "bold yellow", "orphaned": "bold red"}
SEPARATOR = "  "
BAR_CELLS = 16

Line = list[Field]


def idle_fields(snap: Snapshot) -> list[Line]:
    """The pane's fields while nothing runs."""
    reason = snap.idle_reason
    waiting = len(snap.queue)
    if reason is None and snap.store_problem:
        problem = Text(snap.store_problem, style="bold red")
        return [
            [Field(9, Text("Nothing runs:", style="bold")), Field(8, problem, words=True, sep=" ")],
            [Field(9, Text("nothing starts until the store takes writes", style="dim"), True)],
        ]
    if reason is None:
        note = "starting the next one" if waiting else "waiting for work"
        return [[Field(9, Text(f"No sync running ({note}).", style="dim"), words=True)]]
    action = IDLE_ACTIONS.get(reason.kind)
    text = reason.text if action is None else f"{reason.text}; {action}"
    why = Text(text, style=REASON_STYLE.get(reason.kind, "bold red"))
    first = [Field(9, Text("Nothing runs:", style="bold")), Field(8, why, words=True, sep=" ")]
    queued = f"{waiting} queued"
    if reason.until is None:
        return [first, [Field(9, Text(queued, style="dim"))]]
    return [
        first,
        [
            Field(9, Text(f"until {clock(reason.until)}", style="bold")),
            Field(5, Text(f"({queued})")),
        ],
    ]


def active_fields(snap: Snapshot) -> list[Line]:
    """The pane's lines, as fields (`console.tui.fit.Field`)."""
    active = snap.active
    if active is None:
        return idle_fields(snap)
    req, run, progress = active.request, active.run, active.progress
    elapsed = (snap.at - req.started_at).total_seconds() if req.started_at else None
    mode = run.mode.value if run else req.mode.value
    first = [
        Field(9, Text.assemble((req.service, "bold"), f" {mode}")),
        Field(6, Text(f"#{req.id} try {req.attempt}")),
        Field(7, Text(duration(elapsed))),
    ]
    if req.cancel_requested:
        first.append(Field(8, Text("cancelling...", style="bold yellow")))
    if run is not None and run.mode_reason and run.requested_mode == SyncMode.AUTO:
        first.append(Field(1, Text(f"(auto: {run.mode_reason})", style="dim"), words=True))
    elif run is not None and run.mode_reason and run.mode != run.requested_mode:
        first.append(Field(1, Text(f"({run.mode_reason})", style="dim"), words=True))
    second: Line = []
    if active.note is not None:
        style = CONDITION_STYLE.get(active.condition, "bold red")
        second.append(Field(9, Text(active.note, style=style), words=True))
    if progress is None:
        second.append(Field(8, Text("starting..." if active.note is None else "nothing reported")))
        return [first, second]
    total = progress.total
    second.append(Field(7, Text(progress.phase[:18])))
    second.append(Field(2, Text(bar(progress.done, total, BAR_CELLS), style="cyan"), sep=" "))
    figures = f"{short_count(progress.done)}/{short_count(total) if total else '?'}"
    second.append(Field(8, Text(figures), sep=" "))
    if progress.rate:  # none while stalled or orphaned (the snapshot drops it)
        second.append(Field(4, Text(f"{short_count(int(progress.rate))}/s")))
        if total and progress.done < total:
            second.append(
                Field(5, Text(f"ETA {duration((total - progress.done) / progress.rate)}"))
            )
    return [first, second]


def active_lines(snap: Snapshot, width: int | None = None) -> list[Text]:
    """The pane's lines at `width` cells (None: uncut, every field)."""
    lines = []
    for fields in active_fields(snap):
        room = sum(f.text.cell_len + len(SEPARATOR) for f in fields) if width is None else width
        lines.append(fit_fields(fields, room, SEPARATOR))
    return lines


class ActivePane(Pane, Widget):
    pane_name = "Active sync"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Line] = []
        self._retitle()

    def show(self, snap: Snapshot) -> None:
        lines = active_fields(snap)
        if _plain(lines) != _plain(self._lines):
            self._lines = lines
            self.refresh()

    @property
    def text(self) -> str:
        return self.render().plain

    def render(self) -> Text:
        width = max(1, self.content_size.width)
        out = Text(no_wrap=True)
        for i, fields in enumerate(self._lines):
            if i:
                out.append("\n")
            out.append_text(fit_fields(fields, width, SEPARATOR))
        return out


def _plain(lines: list[Line]) -> list[list[tuple[int, str]]]:
    return [[(f.rank, f.text.plain) for f in fields] for fields in lines]
