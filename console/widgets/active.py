"""The active sync: service, mode and why, phase, a progress bar with rows/s and ETA, elapsed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from console.format import bar, count, duration
from core.models import Snapshot, SyncMode


class ActivePane(Static):
    def show(self, snap: Snapshot) -> None:
        active = snap.active
        if active is None:
            note = "dispatching paused" if snap.controls.dispatch_paused else "waiting for work"
            self.update(Text(f"No sync running ({note}).", style="dim"))
            return
        req, run, progress = active.request, active.run, active.progress
        elapsed = (snap.at - req.started_at).total_seconds() if req.started_at else None
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(req.service, style="bold")
        mode = run.mode.value if run else req.mode.value
        text.append(f" {mode}")
        if run is not None and run.mode_reason and run.requested_mode == SyncMode.AUTO:
            text.append(f" (auto: {run.mode_reason})", style="dim")
        text.append(f"  #{req.id} try {req.attempt}  elapsed {duration(elapsed)}")
        if req.cancel_requested:
            text.append("  cancelling...", style="bold yellow")
        text.append("\n")
        if progress is None:
            text.append("starting...")
        else:
            total = progress.total
            text.append(f"{progress.phase[:18]} ")
            text.append(bar(progress.done, total, 16), style="cyan")
            text.append(f" {count(progress.done)}/{count(total) if total else '?'}")
            if progress.rate:
                text.append(f"  {count(int(progress.rate))}/s")
                if total and progress.done < total:
                    text.append(f"  ETA {duration((total - progress.done) / progress.rate)}")
        self.update(text)
