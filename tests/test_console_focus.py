"""Keys act on what the focused pane shows, read-only keys say no, help and footers (issue 21,
items 7, 9, 11 and 14), through Textual's Pilot.

Each test drives a real `SyncdeckApp` over a real orchestrator and SQLite store
(helpers from `test_console_keys`) and checks what the key did to the core and
what the operator sees: the footer, the toasts, the detail screens.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from rich.color import Color, ColorSystem
from test_console_keys import (
    SERVICES,
    app_queue_order,
    bar_text,
    footer_actions,
    make_console,
    queued,
    running,
    screen_text,
    stays,
    toast_said,
    until,
)
from test_console_operator import FailingService, _finish

from console.tui.app import SyncdeckApp
from console.tui.keys import ACTIONS
from console.tui.screens import request as request_detail
from console.tui.screens.detail import DetailScreen
from console.tui.screens.help import HelpScreen
from console.tui.screens.history import HistoryScreen
from console.tui.widgets.event_log import EventLog
from console.tui.widgets.queue import QueueTable
from console.tui.widgets.scroll import KeyScroll
from console.tui.widgets.services import ServicesTable
from core.models import HEALTH_RANK, RequestSource, SyncMode

NARROW = (80, 24)


# -- 7: every key acts on the focused pane's selection ------------------------------------------


async def test_in_the_queue_h_and_f_act_on_the_selected_entrys_service(tmp_path: Path) -> None:
    """Services' cursor stays on orders; the queue's entry is customers. h and f in the Queue
    act on customers (they acted on the hidden services selection, orders)."""
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        await orch.pause()
        request = await orch.request("customers", SyncMode.INCREMENTAL)
        queue = app.query_one(QueueTable)
        await until(pilot, lambda: queue.row_count == 1, "the entry in the queue pane")
        assert app.query_one(ServicesTable).selected == "orders"

        await pilot.press("tab")
        assert app.focused is queue and queue.selected == request.id
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history")
        assert isinstance(app.screen, HistoryScreen) and app.screen.service == "customers"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main, "back to the main view")
        assert app.focused is queue

        await pilot.press("f")

        async def upgraded() -> bool:
            return queued(await orch.snapshot()) == {"customers": ("full", "manual")}

        await until(pilot, upgraded, "f to merge a full sync into the customers request")
        assert (await orch.get_request(request.id)).merged == 1
        assert app_queue_order(app) == ["customers"]


async def test_a_key_pressed_where_it_does_not_act_says_where_it_does(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        await orch.pause()
        request = await orch.request("orders", SyncMode.FULL, priority=5)
        await until(pilot, lambda: app.query_one(QueueTable).row_count == 1, "the entry")

        await pilot.press("plus")  # in Services: + is the queue's
        await until(pilot, lambda: toast_said(app, "+ works in the Queue"), "+ to say where")
        await pilot.press("tab", "tab")  # the event log
        assert app.focused is app.query_one(EventLog)
        await pilot.press("f", "h", "c")
        await until(pilot, lambda: toast_said(app, "works in Services or the Queue"), "f")

        async def untouched() -> bool:
            snap = await orch.snapshot()
            return [(e.request.id, e.request.priority, e.request.mode) for e in snap.queue] == [
                (request.id, 5, SyncMode.FULL)
            ]

        await stays(pilot, untouched, "keys that do not act here must change nothing")
        assert app.screen is app.main


async def test_the_footer_shows_plus_and_minus_in_the_queue_only(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        app = console.app
        assert not {"priority(1)", "priority(-1)"} & footer_actions(app)
        assert "+/-" not in bar_text(app)
        await pilot.press("tab")
        assert {"priority(1)", "priority(-1)"} <= footer_actions(app)
        await until(pilot, lambda: "+/- Prio" in bar_text(app), "the queue's footer")
        bar = bar_text(app)
        for key in ("f/i/a Sync", "c Cancel", "h History", "? Help", "q Quit"):
            assert key in bar, bar


async def test_enter_on_a_queue_entry_shows_its_sources_merges_priority_history_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history comes from the store's event log, read back page by page (three events a
    page here) until the request was queued."""
    monkeypatch.setattr(request_detail, "PAGE", 3)
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        await orch.pause()
        first = await orch.request("prices", SyncMode.AUTO, priority=2, source="schedule")
        await orch.request("prices", SyncMode.FULL, source=RequestSource.CLI)
        for service in ("orders", "customers", "products"):  # events between them
            await orch.request(service, SyncMode.AUTO)
        await orch.set_priority(first.id, delta=-1)
        queue = app.query_one(QueueTable)
        await until(pilot, lambda: queue.row_count == 4, "the four entries")
        app.query_one(QueueTable).focus()
        await pilot.pause()
        while queue.selected != first.id:
            await pilot.press("j")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "the entry's detail")
        assert isinstance(app.screen, DetailScreen) and app.screen.kind == "request"
        await pilot.pause()
        text = screen_text(app)
        assert f"queued request #{first.id}: prices" in text, text
        assert "schedule (queued it)" in text and "merged in: cli at" in text, text
        assert "1 later request" in text, text
        assert "queued by schedule" in text, text  # the priority's history, oldest first
        assert "after a merge (cli request)" in text, text
        assert "changed by an operator (was" in text, text
        assert "ready at" in text and "dispatch is paused" in text, text
        assert "not shown" in text, text
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main, "escape to go back")
        assert app.focused is queue


# -- 11: read-only mode says no ---------------------------------------------------------------


def said_no(app: SyncdeckApp, title: str) -> bool:
    """Whether the toasts on screen include the read-only notice of the key labelled `title`
    (as its own toast, or as the latest of a coalesced count)."""
    for n in app.toasts.visible:
        message = str(n.message)
        if n.title == title and message == "read-only console":
            return True
        if message == f"latest: {title.lower()}: read-only console":
            return True
    return False


async def test_read_only_keys_that_would_change_something_say_read_only_console(
    tmp_path: Path,
) -> None:
    writer = make_console(tmp_path)  # a store with one queued request to look at
    async with running(writer):
        await writer.orch.pause()
        await writer.orch.request("orders", SyncMode.FULL)
    viewer = make_console(tmp_path, read_only=True, runner=False)
    async with running(viewer) as pilot:
        app = viewer.app
        await until(pilot, lambda: app.query_one(QueueTable).row_count == 1, "the entry")
        for key, label in (("f", "Full"), ("p", "Resume"), ("s", "Pause sched"), ("c", "Cancel")):
            await pilot.press(key)
            await until(pilot, partial(said_no, app, label), f"{key} to say no")
        await pilot.press("tab", "plus")
        await until(pilot, lambda: said_no(app, "Raise"), "+ to say no")
        await pilot.press("minus")
        await until(pilot, lambda: said_no(app, "Lower"), "- to say no")
        snap = await app.orch.snapshot()
        assert snap.controls.dispatch_paused and not snap.controls.schedule_paused
        assert [(e.request.service, e.request.mode) for e in snap.queue] == [
            ("orders", SyncMode.FULL)
        ]


# -- 14: help, footers, focus colour, sorts ---------------------------------------------


async def test_help_fits_100x30_without_scrolling(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, (100, 30)) as pilot:
        app = console.app
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        await pilot.pause()
        scroll = app.screen.query_one(KeyScroll)
        assert scroll.max_scroll_y == 0, "help scrolls at 100x30"
        text = screen_text(app)
        for action in ACTIONS:
            assert action.help in text, action.help  # whole, on one line


async def test_j_k_and_the_page_keys_scroll_help_where_it_does_not_fit(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        app = console.app
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        scroll = app.screen.query_one(KeyScroll)
        await until(pilot, lambda: scroll.max_scroll_y > 0, "help taller than 80x24")
        assert scroll.scroll_y == 0
        await pilot.press("j", "j")
        await until(pilot, lambda: scroll.scroll_y == 2, "j to scroll down")
        await pilot.press("k")
        await until(pilot, lambda: scroll.scroll_y == 1, "k to scroll up")
        await pilot.press("pagedown")
        await until(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y, "pgdn to the end")
        await pilot.press("pageup")
        await until(pilot, lambda: scroll.scroll_y == 0, "pgup to the top")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main, "escape closes help")


async def test_the_history_footer_names_filter_sort_reverse_and_enter(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        app = console.app
        await _finish(console.orch, "orders")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history")
        await pilot.pause()
        bar = bar_text(app)
        for key in ("enter Details", "/ Filter", "o Sort", "O Reverse", "esc Back", "? Help"):
            assert key in bar, bar
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "the run's detail")


async def test_the_focused_border_is_not_red_on_a_16_colour_terminal(tmp_path: Path) -> None:
    """TERM=screen has 16 colours: the accent's orange became bright red there."""
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        app = console.app
        for widget in (app.query_one(ServicesTable), app.query_one(QueueTable)):
            widget.focus()
            await pilot.pause()
            colour = widget.styles.border_top[1].rich_color
            standard = Color.parse(colour.name).downgrade(ColorSystem.STANDARD).number
            assert standard not in (1, 9), f"{widget.id}'s focused border is red ({colour.name})"


async def test_o_sorts_the_services_by_health_and_by_next_run(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    console.app.orch._services["products"] = FailingService("products")
    async with running(console, NARROW) as pilot:
        app, orch = console.app, console.orch
        await _finish(orch, "products")  # one failure: degraded
        table = app.query_one(ServicesTable)

        def order() -> list[str]:
            return [str(r.key.value) for r in table.ordered_rows]

        await until(pilot, lambda: order() == list(SERVICES), "the default order")
        await until(
            pilot,
            lambda: "products" in table.views and table.views["products"].health.value != "healthy",
            "products degraded",
        )
        for _ in range(10):
            if "health" in str(table.border_subtitle):
                break
            await pilot.press("o")
        assert "sort: health ▲" in str(table.border_subtitle)
        views = table.views
        ranks = [HEALTH_RANK[views[name].health] for name in order()]
        assert order()[0] == "products" and ranks == sorted(ranks, reverse=True), order()

        await pilot.press("o")
        await until(pilot, lambda: "sort: next run" in str(table.border_subtitle), "next run")
        nexts = [views[name].next_run for name in order()]
        assert all(n is not None for n in nexts)
        assert nexts == sorted(n for n in nexts if n is not None), order()
        assert "o/O Sort" in bar_text(app) or "o Sort" in bar_text(app)
