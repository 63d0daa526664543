"""The active sync, or why nothing runs.

While a sync runs: service, mode and why, request, try and elapsed on the first
line; the phase, a progress bar, rows/s and ETA on the second. A run that is not
running as it should (`ActiveRun.note`: stalled, no progress for `stall_s`; orphaned,
its runner gone) says so first on the second line, and its figures follow without a
rate or an ETA: they are not current. The second line always shows: each line is cut
to the pane's width (the auto reason ends in an ellipsis), and neither ever wraps.
While nothing runs and requests wait, the snapshot's `idle_reason` says why (no
runner alive, dispatch paused, the circuit or backoff and until when, the store
refusing writes); the store's trouble ("store unwritable: <reason>") shows even
with nothing queued.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from console.format import bar, clock, count, duration
from core.models import Snapshot, SyncMode

REASON_STYLE = {"paused": "bold yellow", "backoff": "yellow"}
IDLE_ACTIONS = {"paused": "resume with p"}
"""What an operator at the console does about an idle reason, by its kind."""
CONDITION_STYLE = {"stalled": "bold yellow", "orphaned": "bold red"}


def active_lines(snap: Snapshot) -> list[Text]:
    """The pane's lines, uncut."""
    active = snap.active
    if active is None:
        reason = snap.idle_reason
        waiting = len(snap.queue)
        if reason is None and snap.store_problem:
            first = Text("Nothing runs: ", style="bold")
            first.append(snap.store_problem, style="bold red")
            return [first, Text("nothing starts until the store takes writes", style="dim")]
        if reason is None:
            note = "starting the next one" if waiting else "waiting for work"
            return [Text(f"No sync running ({note}).", style="dim")]
        first = Text("Nothing runs: ", style="bold")
        action = IDLE_ACTIONS.get(reason.kind)
        text = reason.text if action is None else f"{reason.text}; {action}"
        first.append(text, style=REASON_STYLE.get(reason.kind, "bold red"))
        second = Text(f"{waiting} queued", style="dim")
        if reason.until is not None:
            second = Text(f"until {clock(reason.until)}", style="bold")
            second.append(f"  ({waiting} queued)", style="dim")
        return [first, second]
    req, run, progress = active.request, active.run, active.progress
    elapsed = (snap.at - req.started_at).total_seconds() if req.started_at else None
    first = Text()
    first.append(req.service, style="bold")
    mode = run.mode.value if run else req.mode.value
    first.append(f" {mode}  #{req.id} try {req.attempt}  {duration(elapsed)}")
    if req.cancel_requested:
        first.append("  cancelling...", style="bold yellow")
    if run is not None and run.mode_reason and run.requested_mode == SyncMode.AUTO:
        first.append(f"  (auto: {run.mode_reason})", style="dim")
    elif run is not None and run.mode_reason and run.mode != run.requested_mode:
        first.append(f"  ({run.mode_reason})", style="dim")  # incremental without a cursor
    second = Text()
    if active.note is not None:
        second.append(active.note, style=CONDITION_STYLE.get(active.condition, "bold red"))
        second.append("  ")
    if progress is None:
        second.append("starting..." if active.note is None else "nothing reported")
    else:
        total = progress.total
        second.append(f"{progress.phase[:18]} ")
        second.append(bar(progress.done, total, 16), style="cyan")
        second.append(f" {count(progress.done)}/{count(total) if total else '?'}")
        if progress.rate:  # none while stalled or orphaned (the snapshot drops it)
            second.append(f"  {count(int(progress.rate))}/s")
            if total and progress.done < total:
                second.append(f"  ETA {duration((total - progress.done) / progress.rate)}")
    return [first, second]


class ActivePane(Widget):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[Text] = []

    def show(self, snap: Snapshot) -> None:
        lines = active_lines(snap)
        if [t.plain for t in lines] != [t.plain for t in self._lines]:
            self._lines = lines
            self.refresh()

    @property
    def text(self) -> str:
        return self.render().plain

    def render(self) -> Text:
        width = max(1, self.content_size.width)
        out = Text(no_wrap=True)
        for i, line in enumerate(self._lines):
            piece = line.copy()
            piece.truncate(width, overflow="ellipsis")
            if i:
                out.append("\n")
            out.append_text(piece)
        return out
