"""The console as operators use it over SSH (issue 12), at 80x24, through Textual's Pilot.

Each test drives a real `SyncdeckApp` over a real orchestrator and SQLite store
(helpers from `test_console_keys`) and checks what the operator sees and, where
a key changes something, the core's state.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from test_console_keys import (
    SERVICES,
    Console,
    HeldService,
    make_console,
    running,
    screen_text,
    start_held_run,
    until,
)
from test_store_faults import _fill, tiny_disk  # noqa: F401 (a fixture)
from textual.widget import Widget
from textual.widgets import DataTable, Sparkline

from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.detail import DetailScreen
from console.tui.screens.fault import FaultScreen
from console.tui.screens.history import HistoryScreen
from console.tui.widgets.active import ActivePane
from console.tui.widgets.event_log import EventLog
from console.tui.widgets.filter_bar import FilterBar
from console.tui.widgets.key_bar import KeyBar
from console.tui.widgets.queue import QueueTable
from console.tui.widgets.services import ServicesTable
from console.tui.widgets.status_header import SEPARATOR, StatusHeader
from core.errors import StoreReplaced, TransientError
from core.models import RequestSource, RunCounts, SyncMode
from core.orchestrator import Orchestrator
from core.store import SQLiteStore
from core.sync.service import RunContext

NARROW = (80, 24)
HEADER_WORDS = ("READ-ONLY", "runner: ", "since ", "dispatch ", "sched ", "healthy", "degraded")


def header_ok(text: str) -> bool:
    fields = text.strip().split(SEPARATOR)
    return all(f.startswith(HEADER_WORDS) or f[:2].isdigit() or f.endswith("…") for f in fields)


def footer_labels(console: Console) -> list[str]:
    offers, _ = console.app.screen.query_one(KeyBar).offers()
    return [f"{o.display} {o.description}" for o in offers]


class FailingService(HeldService):
    """Fails every run, with a long error."""

    async def run(self, ctx: RunContext) -> RunCounts:
        self.runs += 1
        raise TransientError(f"ERP answered 503 for {self.name}; " + "retry later " * 8)


class QuarantiningService(HeldService):
    async def run(self, ctx: RunContext) -> RunCounts:
        self.runs += 1
        return RunCounts(fetched=2000, inserted=1894, rejected=106)


class LongReasonService(HeldService):
    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        return SyncMode.INCREMENTAL, "cursor 2026-12-02T05:14:16Z, last full 3 days ago, " * 2


async def _finish(orch: Orchestrator, service: str, mode: SyncMode = SyncMode.FULL) -> None:
    request = await orch.request(service, mode)
    await orch.wait(request.id, timeout=10)


# -- 1, 2, 3: whole at 80x24 ----------------------------------------------------------------


async def test_header_fields_are_separated_and_cut_from_the_least_important(
    tmp_path: Path,
) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        app = console.app
        header = app.query_one(StatusHeader)
        await until(pilot, lambda: "runner: this console" in header.text, "the header")
        assert header_ok(header.text), header.text
        assert "dispatch on" in header.text and len(header.text) <= 78
        await pilot.press("p")
        await until(pilot, lambda: "dispatch PAUSED" in header.text, "dispatch PAUSED")
        assert header_ok(header.text), header.text
        assert (await console.orch.controls()).dispatch_paused
        # The "since" time goes first: cut with an ellipsis or dropped, never run together.
        assert "since 08" not in header.text or "…" in header.text or len(header.text) <= 78


async def test_active_pane_keeps_its_progress_line_with_a_long_auto_reason(
    tmp_path: Path,
) -> None:
    console = make_console(tmp_path)
    console.services["orders"] = LongReasonService("orders")
    console.app.orch._services["orders"] = console.services["orders"]
    async with running(console, NARROW) as pilot:
        console.services["orders"].hold()
        await console.orch.request("orders", SyncMode.AUTO)
        pane = console.app.query_one(ActivePane)
        await until(pilot, lambda: "fetching" in pane.text, "the progress line")
        first, second = pane.text.splitlines()
        assert first.startswith("orders incremental") and first.endswith("…"), first
        assert second.startswith("fetching") and "/s" in second, second
        console.services["orders"].release.set()


async def test_services_table_fits_80_columns_and_never_scrolls_sideways(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        table = console.app.query_one(ServicesTable)
        before = table.region
        await _finish(console.orch, "orders")
        await until(pilot, lambda: "succeeded" in screen_text(console.app), "the run to show")
        assert table.virtual_size.width <= table.content_size.width
        assert not table.show_horizontal_scrollbar
        assert table.region == before  # nothing jumped
        line = next(ln for ln in screen_text(console.app).splitlines() if " orders " in ln)
        assert "10/10" in line, line


# -- 4: history, its error column and a run's detail -----------------------------------------


async def test_history_shows_the_error_and_enter_opens_the_run_detail(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    console.app.orch._services["prices"] = FailingService("prices")
    async with running(console, NARROW) as pilot:
        app = console.app
        await _finish(console.orch, "prices")
        await pilot.press("down", "down", "down", "h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history")
        await pilot.pause()
        text = screen_text(app)
        assert "error" in text and "ERP answered…" in text, text  # cut between words
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "the run's detail")
        await pilot.pause()
        detail = screen_text(app)
        assert "retry later retry later" in detail.replace("\n", " ").replace("│", "")
        for word in ("attempt 1", "duration", "fetched 0", "why", "full requested"):
            assert word in detail, (word, detail)
        assert "esc Back" in " ".join(footer_labels(console))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "back to history")
        await pilot.press("q")
        await until(pilot, lambda: not isinstance(app.screen, HistoryScreen), "back to main")
        assert app.is_running  # q went back; it did not quit


async def test_history_with_no_runs_draws_no_sparkline(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        await pilot.press("h")
        await until(pilot, lambda: isinstance(console.app.screen, HistoryScreen), "the history")
        await pilot.pause()
        assert not console.app.screen.query(Sparkline)
        assert "0 runs" in screen_text(console.app)


async def test_history_with_one_run_draws_no_sparkline(tmp_path: Path) -> None:
    """One value is a solid block three rows high across the screen: no trend to show."""
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        await _finish(console.orch, "orders")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(console.app.screen, HistoryScreen), "the history")
        await pilot.pause()
        assert not console.app.screen.query(Sparkline)
        assert "History of orders: 1 run, newest first" in screen_text(console.app)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(console.app.screen, HistoryScreen), "main")
        await _finish(console.orch, "orders")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(console.app.screen, HistoryScreen), "the history")
        await pilot.pause()
        assert console.app.screen.query(Sparkline)
        assert "2 runs, newest first (sparkline" in screen_text(console.app)


# -- 6, 7: says why ---------------------------------------------------------------------------


async def test_paused_with_requests_queued_says_dispatch_is_paused(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        await pilot.press("p")
        await until(pilot, lambda: "Resume" in " ".join(footer_labels(console)), "p Resume")
        await pilot.press("f")
        pane = console.app.query_one(ActivePane)
        await until(pilot, lambda: "dispatch is paused" in pane.text, "the reason")
        assert (await console.orch.snapshot()).queue[0].request.service == "orders"


async def test_no_runner_with_requests_queued_says_how_to_start_one(tmp_path: Path) -> None:
    console = make_console(tmp_path, runner=False, read_only=True)
    async with running(console, NARROW) as pilot:
        await console.orch.request("orders", SyncMode.FULL, source=RequestSource.CLI)
        pane = console.app.query_one(ActivePane)
        await until(pilot, lambda: "no runner is alive" in pane.text, "the reason")
        assert "syncdeck daemon" in pane.text


async def test_open_circuit_says_until_when_and_enter_shows_the_service_detail(
    tmp_path: Path,
) -> None:
    console = make_console(tmp_path)
    console.app.orch._services["orders"] = FailingService("orders")
    async with running(console, NARROW) as pilot:
        app = console.app
        for _ in range(3):
            await _finish(console.orch, "orders")
        await console.orch.request("orders", SyncMode.FULL)
        pane = app.query_one(ActivePane)
        await until(pilot, lambda: "circuit is open" in pane.text, "the circuit reason")
        snap = await console.orch.snapshot()
        until_at = snap.services[0].circuit_until
        assert until_at is not None and snap.queue[0].ready_at == until_at
        assert "until " in pane.text
        queue_line = next(ln for ln in screen_text(app).splitlines() if "#4" in ln)
        assert until_at.astimezone().strftime("%H:%M:%S") in queue_line
        app.query_one(ServicesTable).focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "the service detail")
        await pilot.pause()
        detail = screen_text(app)
        assert "circuit open" in detail and "3 consecutive failures" in detail, detail
        assert "cooldown ends" in detail
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen), "escape closes it")


# -- 8: toasts ---------------------------------------------------------------------------------


async def test_a_failure_storm_shows_at_most_two_toasts_and_counts_the_rest(
    tmp_path: Path,
) -> None:
    console = make_console(tmp_path)
    for name in SERVICES:
        console.app.orch._services[name] = FailingService(name)
    async with running(console, NARROW) as pilot:
        app = console.app
        for name in (*SERVICES, "orders", "orders"):
            await _finish(console.orch, name)
        rack = app.toasts
        await until(pilot, lambda: rack.more == 6, "the toasts to coalesce")
        assert len(rack.visible) == 2
        await pilot.pause()
        assert len(list(app._notifications)) == 2
        titles = [n.title for n in app._notifications]
        assert titles == ["Run failed", "6 more failures"], titles
        # Pilot runs without drawing toasts: the retry-storm snapshot shows the two on screen,
        # clear of the header.


# -- 9: quarantined records -----------------------------------------------------------------------


async def test_a_run_that_quarantined_records_is_a_warning_with_its_count(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    console.app.orch._services["customers"] = QuarantiningService("customers")
    async with running(console, NARROW) as pilot:
        await _finish(console.orch, "customers")
        await until(pilot, lambda: "106 rej" in screen_text(console.app), "the rejected count")
        line = next(ln for ln in screen_text(console.app).splitlines() if " customers " in ln)
        assert "2.0k/1.8k" in line and "succeeded" not in line, line
        assert (await console.orch.history("customers"))[0].counts.rejected == 106


# -- 10, 11, 12: keys ------------------------------------------------------------------------------


async def test_the_filter_box_takes_q_as_text_and_escape_clears(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        app = console.app
        log = app.query_one(EventLog)
        await pilot.press("tab", "tab")  # the event log: where `/` acts
        await pilot.press("slash", "q")
        await until(pilot, lambda: log.filter_text == "q", "q typed into the filter")
        assert app.is_running and app.query_one(FilterBar).is_open
        await pilot.press("escape")
        await until(pilot, lambda: log.filter_text == "", "escape to clear")
        assert not app.query_one(FilterBar).is_open


async def test_labels_name_the_action_the_key_takes(tmp_path: Path) -> None:
    """Each toggle's label says what pressing it does now, never the state it is in."""
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        labels = " ".join(footer_labels(console))
        assert "p Pause" in labels and "s Pause sched" in labels
        await pilot.press("p", "s")
        await until(
            pilot,
            lambda: (
                "p Resume" in " ".join(footer_labels(console))
                and "s Resume sched" in " ".join(footer_labels(console))
            ),
            "the labels to change",
        )
        # At 80 columns too, in each pane, with the longest labels: every key of the pane.
        for pane in ("services", "queue"):
            bar = console.app.screen.query_one(KeyBar).render().plain
            for key in ("p Resume", "s Resume sched", "c Cancel", "? Help", "q Quit"):
                assert key in bar, (pane, bar)
            assert len(bar) <= 80, bar
            await pilot.press("tab")
        controls = await console.orch.controls()
        assert controls.dispatch_paused and controls.schedule_paused
        commands = {c.help for c in console.app.get_system_commands(console.app.screen)}
        assert "Request an incremental sync of orders" in commands


async def test_sort_key_orders_services_shows_the_direction_and_keeps_the_selection(
    tmp_path: Path,
) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        table = console.app.query_one(ServicesTable)
        await pilot.press("down")
        assert table.selected == "customers"

        def order() -> list[str]:
            return [str(r.key.value) for r in table.ordered_rows]

        assert order() == list(SERVICES)
        await pilot.press("o")
        await until(pilot, lambda: order() == sorted(SERVICES), "sorted by name")
        assert "sort: name ▲" in str(table.border_subtitle)
        assert table.selected == "customers"
        await pilot.press("O")
        await until(pilot, lambda: order() == sorted(SERVICES, reverse=True), "reversed")
        assert "sort: name ▼" in str(table.border_subtitle)
        assert table.selected == "customers"
        await _finish(console.orch, "prices")  # a frame later, the order and selection hold
        await until(pilot, lambda: "succeeded" in screen_text(console.app), "the run")
        assert order() == sorted(SERVICES, reverse=True) and table.selected == "customers"


async def test_history_filters_as_you_type_with_a_match_count(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        app = console.app
        await _finish(console.orch, "orders", SyncMode.FULL)
        await _finish(console.orch, "orders", SyncMode.AUTO)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await pilot.press("slash", *"incr")
        await until(pilot, lambda: screen.table.row_count == 1, "the filter to apply")
        assert "(1 of 2)" in str(screen.table.border_subtitle)
        await pilot.press("enter", "escape")
        await until(pilot, lambda: screen.table.row_count == 2, "escape to clear it")
        assert isinstance(app.screen, HistoryScreen)  # the first escape only cleared


# -- 13: focus --------------------------------------------------------------------------------


def border(widget: Widget) -> str:
    """The kind of a widget's top border, as its styles now say."""
    return str(widget.styles.border_top[0])


async def test_focus_changes_the_border_not_only_the_colour(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        services = console.app.query_one(ServicesTable)
        queue = console.app.query_one(QueueTable)
        assert services.has_focus
        assert border(services) == "heavy"
        assert border(queue) == "round"
        await pilot.press("tab")
        await until(pilot, lambda: queue.has_focus, "the queue to take focus")
        await pilot.pause()
        assert border(queue) == "heavy"
        assert border(services) == "round"


# -- 14, 15, 16 --------------------------------------------------------------------------------


async def test_the_event_log_starts_with_the_stores_newest_events(tmp_path: Path) -> None:
    first = make_console(tmp_path)
    async with running(first) as pilot:
        await _finish(first.orch, "prices")
        await pilot.press("q")
    await asyncio.sleep(0)
    later = make_console(tmp_path)
    async with running(later, NARROW) as pilot:
        log = later.app.query_one(EventLog)
        await until(
            pilot,
            lambda: any("run.finished prices" in line for line in log.lines_kept),
            "the earlier run in the log",
        )
        assert later.app.main.backlog_loaded


async def test_a_cancel_confirmation_closes_itself_when_the_run_ends(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        app = console.app
        request_id = await start_held_run(pilot, console)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        console.services["orders"].release.set()
        await console.orch.wait(request_id, timeout=10)
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "it to close")
        assert not (await console.orch.get_request(request_id)).cancel_requested


async def test_the_queue_source_shows_an_upgrade_merge(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        await console.orch.pause()
        await console.orch.request("orders", SyncMode.AUTO, source=RequestSource.SCHEDULE)
        await pilot.press("f")
        await until(
            pilot, lambda: "schedule+manual" in screen_text(console.app), "the merged source"
        )
        snap = await console.orch.snapshot()
        assert snap.queue[0].request.mode == SyncMode.FULL and snap.queue[0].request.merged == 1
        assert isinstance(console.app.query_one(QueueTable), DataTable)
        # The store's backlog, read again after the merge was seen live, counts it once.
        await console.app.main._load_backlog()
        await pilot.pause()
        assert "schedule+manual" in screen_text(console.app)
        assert "manual+2" not in screen_text(console.app)


async def test_the_queue_source_counts_older_merges_beyond_two(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        await console.orch.pause()
        await console.orch.request("orders", SyncMode.AUTO, source=RequestSource.SCHEDULE)
        await console.orch.request("orders", SyncMode.AUTO, source=RequestSource.API)
        await pilot.press("f")
        await until(pilot, lambda: "manual+2" in screen_text(console.app), "the merge count")
        assert "schedule+" not in screen_text(console.app)
        snap = await console.orch.snapshot()
        assert len(snap.queue) == 1 and snap.queue[0].request.merged == 2
        assert snap.queue[0].request.source == RequestSource.SCHEDULE


# -- issue 9: the store breaking or refusing writes under the console ---------------------------


@pytest.mark.timeout(60)
async def test_a_store_replaced_under_the_console_blocks_it_with_quit_only(
    tmp_path: Path,
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    replacement = SQLiteStore(other / "syncdeck.db")
    await replacement.open()
    await replacement.close()
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        app = console.app
        os.replace(other / "syncdeck.db", console.db)  # another syncdeck db moved over ours
        await until(pilot, lambda: isinstance(app.screen, FaultScreen), "the notice", 20)
        await pilot.pause()
        text = screen_text(app).replace("│", "").replace("\n", " ")
        assert str(console.db)[:30] in " ".join(text.split()), text
        assert "was replaced" in text and "start syncdeck again" in text, text
        assert isinstance(console.orch.fault, StoreReplaced)
        assert not console.orch.is_runner  # dispatch stopped: the lease is given up
        for key in ("escape", "f", "question_mark", "h"):
            await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, FaultScreen) and app.is_running
        assert footer_labels(console) == ["q Quit"]
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "q to quit")
    assert app.return_code == 2


@pytest.mark.timeout(60)
async def test_a_full_disk_says_store_unwritable_in_the_header_and_active_pane(
    tiny_disk: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    console = make_console(tiny_disk)
    async with running(console, NARROW) as pilot:
        app = console.app
        filler = _fill(tiny_disk)
        header = app.query_one(StatusHeader)
        pane = app.query_one(ActivePane)
        for _ in range(400):  # operator keys until a write meets the full disk
            if "store unwritable" in header.text:
                break
            await pilot.press("s")
            await pilot.pause(0.02)
        await until(pilot, lambda: "store unwritable: " in header.text, "the header", 20)
        await until(pilot, lambda: "Nothing runs: store unwritable: " in pane.text, "the pane")
        assert "no space left" in ((await console.orch.snapshot()).store_problem or "")
        filler.unlink()  # space returns: the next heartbeat's write goes through
        await until(pilot, lambda: "store unwritable" not in header.text, "the header back", 20)
        await until(pilot, lambda: "Nothing runs" not in pane.text, "the pane back")
        assert header_ok(header.text), header.text
