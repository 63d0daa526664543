"""Detail views opened with Enter: one run (from history), one service (from the main view).

Each is a modal over the screen it came from: Esc, `q` or Enter go back, and
its footer says so; `j`/`k`, the arrows and pgup/pgdn scroll a long one. A queue
entry's detail (`console.tui.screens.request`) opens on the same screen. The
texts are built from the core's values alone (a `RunRecord`, a `ServiceView`
with its health reasons and circuit cooldown end), so they show what `syncdeck
status` and `history` show, in full: nothing is cut.

Failures: none; the values are the caller's.
"""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from console.format import clock, count, duration
from console.tui.widgets.key_bar import KeyBar
from console.tui.widgets.scroll import KeyScroll
from core.models import CircuitState, RunOutcome, RunRecord, ServiceView


def detail_table() -> Table:
    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")
    return table


def run_detail(run: RunRecord) -> Table:
    table = detail_table()
    c = run.counts
    outcome = run.outcome.value.replace("_", " ") if run.outcome else "running"
    if run.outcome == RunOutcome.SUCCEEDED and c.rejected:
        outcome += f" (warning: {count(c.rejected)} records quarantined)"
    table.add_row("outcome", outcome)
    table.add_row("request", f"#{run.request_id}, attempt {run.attempt}")
    mode = run.mode.value
    if run.requested_mode != run.mode:
        mode += f" (requested {run.requested_mode.value})"
    table.add_row("mode", mode)
    table.add_row("why", run.mode_reason or "-")
    table.add_row("started", f"{run.started_at.astimezone():%Y-%m-%d %H:%M:%S}")
    table.add_row("finished", clock(run.finished_at))
    table.add_row("duration", duration(run.duration))
    table.add_row(
        "counts",
        f"fetched {count(c.fetched)}, inserted {count(c.inserted)}, updated {count(c.updated)}, "
        f"unchanged {count(c.unchanged)}, deleted {count(c.deleted)}, "
        f"rejected {count(c.rejected)}",
    )
    table.add_row("runner", f"{run.holder} (epoch {run.epoch})")
    if run.error_class or run.error:
        table.add_row("error", f"{run.error_class or 'error'}: {run.error or ''}")
    return table


def _ago(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "never"
    return f"{clock(then)} ({duration((now - then).total_seconds())} ago)"


def service_detail(s: ServiceView, now: datetime) -> Table:
    table = detail_table()
    table.add_row("state", s.state.replace("_", " "))
    table.add_row("health", s.health.value)
    table.add_row("why", "; ".join(s.health_reasons) or "nothing to report")
    circuit = s.circuit.value.replace("_", "-")
    if s.circuit != CircuitState.CLOSED:
        circuit += f", {s.consecutive_failures} consecutive failures"
    if s.circuit_until is not None:
        left = max(0.0, (s.circuit_until - now).total_seconds())
        circuit += f"; cooldown ends {clock(s.circuit_until)} (in {duration(left)}), then a probe"
    table.add_row("circuit", circuit)
    if s.circuit == CircuitState.CLOSED and s.consecutive_failures:
        table.add_row("failures", f"{s.consecutive_failures} in a row")
    table.add_row("last success", _ago(now, s.last_success_at))
    schedule = "off" if not s.schedule_enabled else f"every {duration(s.interval_s)}"
    if s.schedule_enabled and s.offset_s:
        schedule += f", offset {duration(s.offset_s)}"
    table.add_row("schedule", f"{schedule}; next {clock(s.next_run)}")
    table.add_row("priority", f"{s.priority} (new requests)")
    run = s.last_run
    if run is not None:
        outcome = run.outcome.value.replace("_", " ") if run.outcome else "running"
        line = f"#{run.id} {run.mode.value} {outcome} at {clock(run.finished_at)}"
        line += f", {duration(run.duration)}"
        if run.counts.rejected:
            line += f", {count(run.counts.rejected)} rejected"
        table.add_row("last run", line)
        if run.error:
            table.add_row("last error", run.error)
    return table


class DetailScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Back")]
    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > KeyScroll {
        width: 76; max-width: 100%; height: auto; max-height: 90%; border: thick $primary;
        background: $surface; padding: 0 1;
    }
    """

    def __init__(self, title: str, body: Table, *, kind: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.kind = kind
        """"run", "service" or "request" (tests and the app tell them apart)."""

    def compose(self) -> ComposeResult:
        with KeyScroll() as scroll:
            scroll.border_title = self.title_text
            scroll.border_subtitle = "esc back"
            yield Static(self.body, id="detail")
        yield KeyBar()


def run_screen(service: str, run: RunRecord) -> DetailScreen:
    return DetailScreen(f"{service} run #{run.id}", run_detail(run), kind="run")


def service_screen(s: ServiceView, now: datetime) -> DetailScreen:
    return DetailScreen(f"service {s.name}", service_detail(s, now), kind="service")
