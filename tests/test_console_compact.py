"""Small terminals (issue 21, item 12), through Textual's Pilot: below 80x24 the main view is
compact and whole; below 50x16 a one-line notice says the size needed, and only the ways
out work; the view comes back as it was when the terminal grows again.

Each test drives a real `SyncdeckApp` over a real orchestrator and SQLite store (the
helpers of `test_console_keys`) and reads what the operator would see.
"""

from __future__ import annotations

from pathlib import Path

from support.words import cut_words, screen_lines
from test_console_keys import QUIET, make_console, running, stays, until
from test_console_operator import HEADER_WORDS

from console.tui.app import SyncdeckApp
from console.tui.layout import COMPACT_CLASS, FULL, MINIMUM, layout_for, short_heights
from console.tui.screens.help import HelpScreen
from console.tui.screens.size_notice import SizeNotice
from console.tui.widgets.active import ActivePane
from console.tui.widgets.event_log import EventLog
from console.tui.widgets.key_bar import KeyBar
from console.tui.widgets.queue import QueueTable
from console.tui.widgets.services import ServicesTable
from console.tui.widgets.status_header import SEPARATOR, StatusHeader
from core.models import SyncMode

COMPACT = (60, 20)
PANES = (ServicesTable, ActivePane, QueueTable, EventLog)


def bar(app: SyncdeckApp) -> str:
    return app.screen.query_one(KeyBar).render().plain


def whole_on_screen(app: SyncdeckApp) -> list[str]:
    """What is wrong with the main view's layout: a screen scrollbar, a pane out of view or
    cut by the screen's edge, a word cut in two."""
    screen, wrong = app.screen, []
    if screen.show_vertical_scrollbar or screen.show_horizontal_scrollbar:
        wrong.append("the screen scrolls")
    for kind in (StatusHeader, *PANES, KeyBar):
        widget = screen.query_one(kind)
        if not screen.region.contains_region(widget.region) or widget.region.height == 0:
            wrong.append(f"{kind.__name__} at {widget.region}, not whole on {screen.region}")
        wrong += [
            f"{kind.__name__}: {word!r} cut in {line!r}" for word, line in cut_words(app, widget)
        ]
    return wrong


async def test_at_60x20_the_view_is_compact_and_keeps_service_state_health_and_the_active_sync(
    tmp_path: Path,
) -> None:
    console = make_console(tmp_path)
    async with running(console, COMPACT) as pilot:
        app, orch = console.app, console.orch
        assert app.main.has_class(COMPACT_CLASS)
        await orch.pause()
        for service in ("customers", "prices"):
            await orch.request(service, SyncMode.FULL)
        queue = app.query_one(QueueTable)
        await until(pilot, lambda: queue.row_count == 2, "the two entries")
        await pilot.pause()
        assert whole_on_screen(app) == [], "\n".join(screen_lines(app))
        services = app.query_one(ServicesTable)
        shown = [c.label for c in services.shown_columns]
        assert shown[:3] == ["service", "state", "health"] and "result" in shown, shown
        assert "paused" in app.query_one(ActivePane).text  # why nothing runs
        assert queue.border_title == "Queue · 2 queued"  # no bottom border: the note moves up
        for key in ("h History", "? Help", "q Quit"):
            assert key in bar(app), bar(app)
        fields = app.query_one(StatusHeader).text.strip().split(SEPARATOR)
        assert all(f.startswith(HEADER_WORDS) for f in fields), fields

        await pilot.press("tab")  # keys still act on the focused pane's row
        await pilot.press("plus")

        async def raised() -> bool:
            snap = await orch.snapshot()
            return snap.queue[0].request.priority > 3

        await until(pilot, raised, "+ to raise the customers request")
        assert "+/- Prio" in bar(app) and "q Quit" in bar(app), bar(app)


async def test_at_80x24_the_view_is_full_and_in_between_compact(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, FULL) as pilot:
        app = console.app
        assert not app.main.has_class(COMPACT_CLASS)
        table = app.query_one(ServicesTable)
        assert table.shown_columns == table.column_spec  # every column
        for size in ((100, 20), (70, 30), MINIMUM, COMPACT, FULL):
            await pilot.resize_terminal(*size)
            compact = layout_for(*size) == "compact"

            def laid_out(compact: bool = compact) -> bool:
                return app.main.has_class(COMPACT_CLASS) is compact

            await until(pilot, laid_out, f"the layout at {size}")
            await pilot.pause()
            assert whole_on_screen(app) == [], (size, "\n".join(screen_lines(app)))


def test_short_views_keep_a_line_for_every_pane() -> None:
    assert short_heights(FULL[1], 4) is None  # the stylesheet's
    for height in range(MINIMUM[1], FULL[1]):
        for services in (4, 8, 30):
            limits = short_heights(height, services)
            assert limits is not None
            services_lines, queue_lines = limits
            assert services_lines >= 3 and queue_lines >= 3
            assert 1 + services_lines + 3 + 3 + 2 + 1 <= height, (height, services, limits)


async def test_below_the_minimum_a_one_line_notice_says_the_size_needed(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, FULL) as pilot:
        app, orch = console.app, console.orch
        app.query_one(ServicesTable).move_cursor(row=2)
        await pilot.resize_terminal(40, 12)
        await until(pilot, lambda: isinstance(app.screen, SizeNotice), "the size notice")
        await pilot.pause()
        lines = [line.rstrip() for line in screen_lines(app) if line.strip()]
        assert lines == ["Terminal too small: syncdeck needs 50x16"], lines
        await pilot.resize_terminal(100, 12)
        await until(pilot, lambda: "(this is 100x12)" in "".join(screen_lines(app)), "its size")

        await pilot.press("f", "p", "question_mark", "h")  # nothing to see: nothing acts

        async def untouched() -> bool:
            snap = await orch.snapshot()
            return not snap.queue and not snap.controls.dispatch_paused

        await stays(pilot, untouched, "keys under the notice must change nothing", QUIET)
        assert isinstance(app.screen, SizeNotice)

        await pilot.resize_terminal(*FULL)
        await until(pilot, lambda: app.screen is app.main, "the main view back")
        assert app.query_one(ServicesTable).selected == "products"  # as it was
        await pilot.resize_terminal(30, 10)
        await until(pilot, lambda: isinstance(app.screen, SizeNotice), "the notice again")
        await pilot.press("q")  # the way out still works
        await until(pilot, lambda: not app.is_running, "q to quit")


async def test_a_resize_under_the_help_lays_the_main_view_out_when_it_is_back(
    tmp_path: Path,
) -> None:
    console = make_console(tmp_path)
    async with running(console, FULL) as pilot:
        app = console.app
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        await pilot.resize_terminal(*COMPACT)
        await pilot.pause()
        help_box = app.screen.query_one("KeyScroll")
        assert cut_words(app, help_box) == [], "\n".join(screen_lines(app))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.main, "the main view")
        await until(pilot, lambda: app.main.has_class(COMPACT_CLASS), "the compact layout")
        await pilot.pause()
        assert whole_on_screen(app) == [], "\n".join(screen_lines(app))
