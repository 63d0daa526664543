"""Every key and palette command of the console, driven through Textual's Pilot.

Each test presses real keys in a real `SyncdeckApp` over a real orchestrator and
SQLite store, then checks what the key did to the core (queue, controls, runs,
the store after exit), not only what the screen shows. Waits are polls on a
condition with a deadline, never sleeps standing in for synchronisation.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.table import Table
from support.clock import ManualClock
from textual import events
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Static

from console.tui.app import SyncdeckApp
from console.tui.keys import ACTIONS, MUTATING_ACTIONS
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.help import HelpScreen
from console.tui.screens.history import HistoryScreen
from console.tui.widgets.event_log import EventLog
from console.tui.widgets.filter_bar import FilterBar
from console.tui.widgets.key_bar import KeyBar
from console.tui.widgets.queue import QueueTable
from console.tui.widgets.services import ServicesTable
from core.config import Settings
from core.models import (
    RequestSource,
    RequestState,
    RunCounts,
    RunOutcome,
    Snapshot,
    SyncMode,
)
from core.orchestrator import Orchestrator
from core.store import SQLiteStore
from core.sync.service import RunContext

SIZE = (100, 30)
WAIT = 10.0
"""Upper bound on any wait for something that should happen promptly."""
QUIET = 0.3
"""How long a negative check ("nothing starts while paused") watches the core."""
SERVICES = ("orders", "customers", "products", "prices")
"""In the services pane's order: default priority, highest first."""

KEYS_TESTED = {
    "f",
    "i",
    "a",
    "c",
    "r",
    "plus",
    "equals_sign",
    "minus",
    "p",
    "s",
    "h",
    "slash",
    "question_mark",
    "q",
    "o",
    "O",
    "escape",
}
"""Every key of console.tui.keys.ACTIONS that a test below presses."""


class HeldService:
    """A service whose runs pass straight through, or hold until released.

    While held, a run polls its cancel flag, as a real service does between batches.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.release = asyncio.Event()
        self.release.set()
        self.runs = 0
        self.saw_cancel = False
        self.wind_down_s = 0.0
        """How long a run takes to stop once its task is cancelled (a batch finishing)."""
        self.rows = 10
        """Rows each run fetches and inserts."""
        self.fails_with: str | None = None
        """An error each run ends in, if set."""

    def hold(self) -> None:
        self.release.clear()

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        if requested == SyncMode.AUTO:
            return SyncMode.INCREMENTAL, "test: cursor known"
        return requested, f"{requested.value} requested"

    async def run(self, ctx: RunContext) -> RunCounts:
        self.runs += 1
        ctx.report("fetching", 5, 10, rate=2.0)
        try:
            while not self.release.is_set():
                if ctx.cancelled:
                    self.saw_cancel = True
                    ctx.check_cancelled()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.release.wait(), 0.02)
        except asyncio.CancelledError:
            if self.wind_down_s:
                await asyncio.sleep(self.wind_down_s)
            raise
        if self.fails_with is not None:
            raise RuntimeError(self.fails_with)
        return RunCounts(fetched=self.rows, inserted=self.rows)


def make_orchestrator(
    db: Path, *, runner: bool = True
) -> tuple[Orchestrator, dict[str, HeldService]]:
    services = {name: HeldService(name) for name in SERVICES}
    settings = Settings.from_values(
        data_dir=db.parent,
        # Aging so slow that only base priorities order the queue during a test.
        orchestrator={"aging_step_s": 1e6, "retry": {"tries": 1}, "cancel_grace_s": 30},
        schedule={"enabled": True},
    )
    orch = Orchestrator(SQLiteStore(db), services, settings, runner=runner, schedule=False)
    return orch, services


@dataclass
class Console:
    app: SyncdeckApp
    services: dict[str, HeldService]
    db: Path

    @property
    def orch(self) -> Orchestrator:
        return self.app.orch


def make_console(
    tmp_path: Path,
    *,
    read_only: bool = False,
    runner: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> Console:
    db = tmp_path / "syncdeck.db"
    orch, services = make_orchestrator(db, runner=runner)
    app = SyncdeckApp(orch, read_only=read_only, manage_orchestrator=True, clock=clock)
    return Console(app, services, db)


def redraw_idle(app: SyncdeckApp) -> bool:
    """No frame scheduled, none being drawn, and none started but not yet running."""
    return (
        app.main.limiter._refresh_handle is None
        and not app.main.limiter._refreshing
        and all(w.is_finished for w in app.workers if w.group == "redraw")
    )


@contextlib.asynccontextmanager
async def running(console: Console, size: tuple[int, int] = SIZE) -> AsyncIterator[Pilot[None]]:
    """The console up, its services listed and (if it may run syncs) holding the lease."""
    async with console.app.run_test(size=size) as pilot:
        app = console.app

        def ready() -> bool:
            snap = app.main.snapshot
            return (
                snap is not None
                and app.query_one(ServicesTable).row_count == len(SERVICES)
                and (app.read_only or (app.orch.is_runner and snap.is_runner))
            )

        await until(pilot, ready, "the console to start")
        yield pilot


async def until(
    pilot: Pilot[None],
    condition: Callable[[], bool | Awaitable[bool]],
    what: str,
    timeout: float = WAIT,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def stays(
    pilot: Pilot[None], condition: Callable[[], Awaitable[bool]], what: str, window: float = QUIET
) -> None:
    """Assert `condition` holds throughout a short window (for things that must NOT happen)."""
    deadline = time.monotonic() + window
    while time.monotonic() < deadline:
        assert await condition(), what
        await pilot.pause(0.02)
    assert await condition(), what


def queued(snap: Snapshot) -> dict[str, tuple[str, str]]:
    """service -> (mode, source) of every queued request."""
    return {e.request.service: (e.request.mode.value, e.request.source.value) for e in snap.queue}


def queue_order(snap: Snapshot) -> list[str]:
    return [e.request.service for e in snap.queue]


def app_queue_order(app: SyncdeckApp) -> list[str]:
    return [] if app.main.snapshot is None else queue_order(app.main.snapshot)


def screen_text(app: SyncdeckApp) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def bar_text(app: SyncdeckApp) -> str:
    """The footer's text as it renders now."""
    return app.screen.query_one(KeyBar).render().plain


def footer_actions(app: SyncdeckApp) -> set[str]:
    offers, palette = app.screen.query_one(KeyBar).offers()
    return {offer.action for offer in offers} | ({palette.action} if palette else set())


def help_rows(app: SyncdeckApp) -> list[str]:
    table = app.screen.query_one(Static).content
    assert isinstance(table, Table)
    return [str(cell) for cell in table.columns[-1].cells]


def toast_said(app: SyncdeckApp, text: str) -> bool:
    """Whether a toast on screen says `text` (in its message)."""
    return any(text in str(n.message) for n in app.toasts.visible)


async def lease_released(store: SQLiteStore) -> bool:
    """Released: the row stays, expired, so the next process takes over at once."""
    lease = await store.lease()
    return lease is None or lease.expires_at <= await store.now()


async def request_cancel_asked(orch: Orchestrator, request_id: int) -> bool:
    return (await orch.get_request(request_id)).cancel_requested


async def state_of(orch: Orchestrator, request_id: int) -> RequestState:
    return (await orch.get_request(request_id)).state


async def start_held_run(pilot: Pilot[None], console: Console, service: str = "orders") -> int:
    """A sync of `service` running (held), seen by the core and by the console."""
    console.services[service].hold()
    request = await console.orch.request(service, SyncMode.FULL)

    async def seen() -> bool:
        snap = await console.orch.snapshot()
        app_snap = console.app.main.snapshot
        return (
            snap.active is not None
            and snap.active.request.id == request.id
            and app_snap is not None
            and app_snap.active is not None
            and app_snap.active.request.id == request.id
        )

    await until(pilot, seen, f"the {service} sync to run")
    return request.id


# -- the key table itself ----------------------------------------------------------------


def test_every_key_of_the_keymap_is_exercised_here() -> None:
    keys = {key for action in ACTIONS for key in action.keys.split(",")}
    assert keys == KEYS_TESTED
    mutating = {"sync", "cancel", "probe", "priority", "toggle_dispatch", "toggle_schedule"}
    assert mutating == MUTATING_ACTIONS


# -- f / i / a with the selection moved by up/down and j/k -------------------------------


async def test_sync_keys_queue_a_request_for_the_selected_service(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        await orch.pause()  # keep every request in the queue to look at it
        table = app.query_one(ServicesTable)
        assert app.focused is table
        assert table.selected == "orders"

        steps: list[tuple[tuple[str, ...], str, str, str]] = [
            (("down",), "customers", "i", "incremental"),
            (("j", "j"), "prices", "a", "auto"),
            (("k",), "products", "f", "full"),
            (("up", "up"), "orders", "f", "full"),
        ]
        expected: dict[str, tuple[str, str]] = {}
        for moves, service, key, mode in steps:
            await pilot.press(*moves)
            assert table.selected == service
            await pilot.press(key)
            expected[service] = (mode, RequestSource.MANUAL.value)
            want = dict(expected)

            async def reached(want: dict[str, tuple[str, str]] = want) -> bool:
                return queued(await orch.snapshot()) == want

            await until(pilot, reached, f"{key} on {service} to queue a {mode} request")
        assert all(s.runs == 0 for s in console.services.values())


async def test_sync_key_merges_into_the_queued_request_with_the_stronger_mode(
    tmp_path: Path,
) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        orch = console.orch
        await orch.pause()
        await pilot.press("a")

        async def auto_queued() -> bool:
            return queued(await orch.snapshot()) == {"orders": ("auto", "manual")}

        await until(pilot, auto_queued, "an auto request for orders")
        await pilot.press("f")

        async def upgraded() -> bool:
            return queued(await orch.snapshot()) == {"orders": ("full", "manual")}

        await until(pilot, upgraded, "the queued orders request to become full")
        assert len((await orch.snapshot()).queue) == 1


# -- c -----------------------------------------------------------------------------------


async def test_cancel_key_cancels_what_the_focused_row_shows(tmp_path: Path) -> None:
    """In Services, c acts on the row's service: its queued request goes at once, and a
    service with nothing queued or running says so. In the Queue, c cancels the entry."""
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        await orch.pause()
        ids = {s: (await orch.request(s, SyncMode.FULL)).id for s in SERVICES[:3]}
        await until(
            pilot,
            lambda: app.query_one(QueueTable).row_count == 3,
            "three entries in the queue pane",
        )

        # prices: nothing queued, nothing running; c says so, and cancels nothing.
        await pilot.press("j", "j", "j")
        assert app.query_one(ServicesTable).selected == "prices"
        await pilot.press("c")
        await until(pilot, lambda: toast_said(app, "prices has nothing queued or running"), "c")
        assert not isinstance(app.screen, ConfirmScreen)
        assert queue_order(await orch.snapshot()) == ["orders", "customers", "products"]

        # orders: queued; c on its row cancels that request at once, asking nothing.
        await pilot.press("k", "k", "k")
        assert app.query_one(ServicesTable).selected == "orders"
        await pilot.press("c")

        async def orders_cancelled() -> bool:
            return await state_of(orch, ids["orders"]) == RequestState.CANCELLED

        await until(pilot, orders_cancelled, "c on the orders row to cancel its request")
        assert not isinstance(app.screen, ConfirmScreen)

        await pilot.press("tab")
        queue = app.query_one(QueueTable)
        assert app.focused is queue
        await until(pilot, lambda: queue.row_count == 2, "the orders entry to leave the queue")
        await pilot.press("k")  # the top: customers
        assert queue.selected == ids["customers"]
        await pilot.press("c")

        async def cancelled() -> bool:
            return await state_of(orch, ids["customers"]) == RequestState.CANCELLED

        await until(pilot, cancelled, "the customers request to be cancelled")
        assert not isinstance(app.screen, ConfirmScreen)
        assert queue_order(await orch.snapshot()) == ["products"]
        assert await state_of(orch, ids["products"]) == RequestState.QUEUED
        await until(
            pilot,
            lambda: str(ids["customers"]) not in [k.value for k in queue.rows],
            "the cancelled entry to leave the queue pane",
        )


async def test_cancel_key_on_a_running_sync_asks_first(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        request_id = await start_held_run(pilot, console)

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm dialog")
        assert f"request #{request_id}" in screen_text(app)
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the dialog to close")

        async def still_running() -> bool:
            req = await orch.get_request(request_id)
            return req.state == RequestState.RUNNING and not req.cancel_requested

        await stays(pilot, still_running, "n must leave the sync running")
        assert not console.services["orders"].saw_cancel

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm dialog")
        await pilot.press("y")
        await until(
            pilot,
            lambda: request_cancel_asked(orch, request_id),
            "y to ask the running sync to stop",
        )
        assert not isinstance(app.screen, ConfirmScreen)

        async def ended() -> bool:
            return (await state_of(orch, request_id)).ended

        await until(pilot, ended, "the cancelled run to end")
        runs = await orch.history("orders")
        assert [r.outcome for r in runs] == [RunOutcome.CANCELLED]
        assert console.services["orders"].saw_cancel  # it stopped cooperatively, not released
        assert not console.services["orders"].release.is_set()
        assert (await orch.snapshot()).active is None


# -- + / - (and =) -----------------------------------------------------------------------


async def test_priority_keys_reorder_the_queue_and_keep_the_selection(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        await orch.pause()
        # Requested first, so it wins a tie: products (2) < customers (3) < orders (4).
        products = (await orch.request("products", SyncMode.FULL)).id
        await orch.request("customers", SyncMode.FULL)
        await orch.request("orders", SyncMode.FULL)
        queue = app.query_one(QueueTable)
        await until(pilot, lambda: queue.row_count == 3, "three entries in the queue pane")
        assert app_queue_order(app) == ["orders", "customers", "products"]

        await pilot.press("tab", "j", "j")
        assert queue.selected == products
        assert queue.cursor_row == 2

        async def check(priority: int, order: list[str], key: str) -> None:
            async def done() -> bool:
                return queue_order(await orch.snapshot()) == order

            await until(pilot, done, f"{key} to reorder the queue to {order}")
            assert (await orch.get_request(products)).priority == priority
            await until(
                pilot, lambda: app_queue_order(app) == order, f"the queue pane to show {order}"
            )
            assert queue.selected == products, f"selection left products after {key}"
            assert queue.cursor_row == order.index("products")

        await pilot.press("plus")
        await check(3, ["orders", "products", "customers"], "+")
        await pilot.press("minus")
        await check(2, ["orders", "customers", "products"], "-")
        await pilot.press("equals_sign")
        await check(3, ["orders", "products", "customers"], "=")
        await pilot.press("plus")
        await check(4, ["products", "orders", "customers"], "+")
        assert (await orch.get_request(products)).state == RequestState.QUEUED


async def test_fast_priority_presses_all_count(tmp_path: Path) -> None:
    """Five `+` in a row, faster than a frame: each press moves the priority by one in the
    store, not to one more than the last frame showed."""
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        await orch.pause()
        prices = (await orch.request("prices", SyncMode.FULL, priority=5)).id
        queue = app.query_one(QueueTable)
        await until(pilot, lambda: queue.row_count == 1, "the entry in the queue pane")
        await pilot.press("tab")
        assert queue.selected == prices
        await pilot.press("plus", "plus", "plus", "plus", "plus")

        async def raised() -> bool:
            return (await orch.get_request(prices)).priority == 10

        await until(pilot, raised, "five presses to raise the priority by five")


async def test_priority_keys_need_a_queue_entry(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        orch = console.orch
        await orch.pause()
        before = (await orch.snapshot()).queue
        await pilot.press("plus", "minus")
        assert (await orch.snapshot()).queue == before == []
        assert (await orch.snapshot()).controls.dispatch_paused


# -- p / s -------------------------------------------------------------------------------


async def test_clicking_a_key_in_the_footer_does_what_the_key_does(tmp_path: Path) -> None:
    """The footer is a key bar drawn from the bindings: its labels are where they say, and a
    click on one acts like the key (here: p pauses dispatching in the core)."""
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        bar = app.screen.query_one(KeyBar)
        line = bar.render().plain
        offers, palette = bar.offers()
        assert [o.action for o in offers][:3] == [
            "sync('full')",
            "sync('incremental')",
            "sync('auto')",
        ]
        assert palette is not None and line.rstrip().endswith(palette.display)
        column = line.index("p Pause")
        assert "p Pause" in screen_text(app).splitlines()[-1]
        await pilot.click(KeyBar, offset=(column + 2, 0))

        async def paused() -> bool:
            return (await orch.snapshot()).controls.dispatch_paused

        await until(pilot, paused, "a click on 'p Pause' to pause dispatching")


async def test_pause_key_toggles_dispatching(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch

        async def paused(value: bool) -> bool:
            return (await orch.snapshot()).controls.dispatch_paused is value

        await pilot.press("p")
        await until(pilot, lambda: paused(True), "p to pause dispatching")
        await until(
            pilot,
            lambda: app.main.snapshot is not None and app.main.snapshot.controls.dispatch_paused,
            "the console to show dispatching paused",
        )
        assert "dispatch PAUSED" in screen_text(app)

        await pilot.press("f")

        async def orders_queued() -> bool:
            return queued(await orch.snapshot()) == {"orders": ("full", "manual")}

        await until(pilot, orders_queued, "the orders request to be queued")

        async def not_started() -> bool:
            snap = await orch.snapshot()
            return snap.active is None and queued(snap) == {"orders": ("full", "manual")}

        await stays(pilot, not_started, "a request made while paused must stay queued")
        assert console.services["orders"].runs == 0

        await pilot.press("p")
        await until(pilot, lambda: paused(False), "p to resume dispatching")

        async def ran() -> bool:
            runs = await orch.history("orders")
            return [r.outcome for r in runs] == [RunOutcome.SUCCEEDED]

        await until(pilot, ran, "the queued request to run once dispatching resumed")
        assert console.services["orders"].runs == 1


async def test_schedule_key_toggles_the_schedule(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        snap = await orch.snapshot()
        assert all(s.next_run is not None for s in snap.services)

        async def schedule_paused(value: bool) -> bool:
            s = await orch.snapshot()
            return s.controls.schedule_paused is value

        await pilot.press("s")
        await until(pilot, lambda: schedule_paused(True), "s to pause the schedule")
        snap = await orch.snapshot()
        assert all(s.next_run is None for s in snap.services)
        assert not snap.controls.dispatch_paused
        await until(
            pilot,
            lambda: app.main.snapshot is not None and app.main.snapshot.controls.schedule_paused,
            "the console to show the schedule paused",
        )
        assert "sched PAUSED" in screen_text(app)

        await pilot.press("s")
        await until(pilot, lambda: schedule_paused(False), "s to resume the schedule")
        snap = await orch.snapshot()
        assert all(s.next_run is not None for s in snap.services)


# -- h -----------------------------------------------------------------------------------


async def test_history_key_shows_the_selected_service_and_escape_returns(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        for service in ("customers", "customers", "orders"):
            request = await orch.request(service, SyncMode.FULL)
            await orch.wait(request.id, timeout=WAIT)
        expected = [r.id for r in await orch.history("customers", limit=200)]
        assert len(expected) == 2

        main = app.screen
        await pilot.press("down", "h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history screen")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert screen.service == "customers"
        assert [r.id for r in screen.runs] == expected
        runs_table = screen.query_one("#runs")
        assert [k.value for k in runs_table.rows] == [str(i) for i in expected]  # type: ignore[attr-defined]
        assert "History of customers: 2 runs" in screen_text(app)

        await pilot.press("escape")
        await until(pilot, lambda: app.screen is main, "escape to return to the main view")
        assert app.query_one(ServicesTable).selected == "customers"
        assert len(await orch.history("customers")) == 2  # looking changed nothing


# -- / -----------------------------------------------------------------------------------


async def test_a_multi_line_error_is_one_line_of_the_event_log(tmp_path: Path) -> None:
    """A failed run's error, as a database driver writes it (line breaks and an indent),
    is logged on one line: a line break inside a drawn line would tear the screen."""
    console = make_console(tmp_path)
    console.services["orders"].fails_with = "connection failed\n\tIs the server running?"
    async with running(console) as pilot:
        app = console.app
        await console.orch.request("orders", SyncMode.FULL)
        log = app.query_one(EventLog)

        def failed() -> list[str]:
            return [line for line in log.lines_kept if "run.finished orders" in line]

        await until(pilot, lambda: bool(failed()), "the failed run to reach the event log")
        assert failed()[-1].endswith("error=connection failed Is the server running?")
        await pilot.pause()
        shown = [strip.text for strip in log.lines]
        assert all("\n" not in line and "\t" not in line for line in shown)
        assert len(shown) == len(log.lines_kept)  # one line each (the pane may cut it short)
        assert "error=connection failed Is the server" in screen_text(app)


async def test_filter_key_shows_only_matching_event_lines(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        await orch.pause()
        await orch.request("orders", SyncMode.FULL)
        await orch.request("customers", SyncMode.INCREMENTAL)
        await orch.request("prices", SyncMode.FULL)
        log = app.query_one(EventLog)

        def logged() -> bool:
            kept = list(log.lines_kept)
            return all(
                any("request.queued" in line and f" {s} " in line for line in kept)
                for s in ("orders", "customers", "prices")
            )

        await until(pilot, logged, "the requests to reach the event log")
        before = queued(await orch.snapshot())

        # `/` acts on the event log: from Services it says where it works, and opens nothing.
        await pilot.press("slash")
        await until(pilot, lambda: toast_said(app, "/ works in Events"), "/ to say where")
        assert not app.query(FilterBar)
        await pilot.press("tab", "tab")
        assert app.focused is log
        await pilot.press("slash")
        await until(pilot, lambda: bool(app.query(FilterBar)), "the filter box to mount")
        bar = app.query_one(FilterBar)
        await until(pilot, lambda: bar.is_open and app.focused is bar, "the filter box")
        await pilot.press(*"customers")
        await until(pilot, lambda: log.filter_text == "customers", "the filter to apply as typed")
        assert "of" in str(log.border_subtitle)  # the match count shows while typing
        await pilot.press("enter")
        await until(pilot, lambda: not bar.is_open, "the filter box to close")
        assert log.filter_text == "customers"

        shown = [strip.text.rstrip() for strip in log.lines]
        matching = [line for line in log.lines_kept if "customers" in line.lower()]
        assert len(matching) < len(log.lines_kept)  # the filter has something to hide
        assert shown == matching
        assert f"filter: customers ({len(matching)} of {len(log.lines_kept)})" in screen_text(app)
        assert queued(await orch.snapshot()) == before  # typing "customers" triggered no keys

        # A new matching event shows; a new other one does not.
        await orch.request("customers", SyncMode.FULL)
        await orch.request("products", SyncMode.FULL)
        await until(
            pilot,
            lambda: any(" products " in line for line in log.lines_kept),
            "the products request to reach the event log",
        )
        shown = [strip.text.rstrip() for strip in log.lines]
        assert shown == [line for line in log.lines_kept if "customers" in line.lower()]

        # Escape on the main view clears the filter: everything shows again.
        await pilot.press("escape")
        await until(pilot, lambda: log.filter_text == "", "escape to clear the filter")
        assert [strip.text.rstrip() for strip in log.lines] == list(log.lines_kept)
        # Escape in the box clears it too, and closes it.
        await pilot.press("slash", *"orders")
        await until(pilot, lambda: log.filter_text == "orders", "the filter to apply")
        await pilot.press("escape")
        await until(pilot, lambda: not bar.is_open and log.filter_text == "", "the box to clear")


async def test_event_log_keeps_the_newest_line_visible_when_the_layout_changes(
    tmp_path: Path,
) -> None:
    console = make_console(tmp_path)
    for service in console.services.values():
        service.rows = 20_000
    async with running(console, size=(80, 24)) as pilot:
        app, orch = console.app, console.orch
        log = app.query_one(EventLog)
        for name in ("orders", "customers"):
            await orch.wait((await orch.request(name, SyncMode.FULL)).id, timeout=WAIT)

        def shown() -> bool:
            done = any("request.finished customers" in line for line in log.lines_kept)
            return done and redraw_idle(app)

        await until(pilot, shown, "the last run's events to be shown")
        before = log.size.height
        # The log loses lines to the panes above it (at 80x20 the compact layout, without
        # bottom borders, would give it more).
        await pilot.resize_terminal(80, 18)
        await until(pilot, lambda: log.size.height < before, "the log to shrink")
        app.main.limiter.request_redraw()
        assert log.max_scroll_y > 0  # more events than lines: the end is not the top
        await until(
            pilot,
            lambda: log.scroll_y == log.max_scroll_y,
            "the newest event line to be visible (the log at its end)",
            timeout=1.0,
        )


# -- ? -----------------------------------------------------------------------------------


async def test_help_key_lists_every_action(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        main = app.screen
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        rows = help_rows(app)
        for action in ACTIONS:
            assert action.help in rows, f"help does not list {action.action}"
        assert "syncdeck keys" in screen_text(app)
        assert "(read-only)" not in screen_text(app)

        # q closes help; it does not quit the console.
        await pilot.press("q")
        await until(pilot, lambda: app.screen is main, "q to close the help screen")
        assert app.is_running
        assert orch.is_runner


# -- q -----------------------------------------------------------------------------------


async def test_quit_key_when_idle_quits_and_releases_the_runner_lease(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        await pilot.press("q")
        assert console.app.return_code is not None, "q did not quit"
        assert not isinstance(console.app.screen, ConfirmScreen)
    assert not console.app.is_running
    store = SQLiteStore(console.db)
    await store.open()
    try:
        assert await lease_released(store)
        assert await store.runs() == []
    finally:
        await store.close()


async def test_quit_key_while_this_console_runs_a_sync_asks_first(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        request_id = await start_held_run(pilot, console)

        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit question")
        assert "Quit?" in screen_text(app)
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "the dialog to close")
        assert app.is_running and app.return_code is None

        async def still_running() -> bool:
            return await state_of(orch, request_id) == RequestState.RUNNING

        await stays(pilot, still_running, "n must keep the sync running")

        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit question")
        await pilot.press("y")
        assert app.return_code is not None, "y did not quit"
    assert not app.is_running

    store = SQLiteStore(console.db)
    await store.open()
    try:
        runs = await store.runs(service="orders")
        assert [r.outcome for r in runs] == [RunOutcome.INTERRUPTED]
        request = await store.get_request(request_id)
        assert request.state == RequestState.QUEUED  # queued again for the next runner
        assert await lease_released(store)
    finally:
        await store.close()


async def test_every_way_out_asks_while_this_console_runs_a_sync(tmp_path: Path) -> None:
    """ctrl+q and ctrl+c ask what q asks, in English ("an orders sync"), rather than
    quitting at once or showing a hint with its markup."""
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app = console.app
        await start_held_run(pilot, console)
        for key in ("ctrl+q", "ctrl+c"):
            await pilot.press(key)
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), f"{key}'s question")
            text = screen_text(app)
            assert "running an orders sync" in text and "Quit?" in text, text
            assert "[b]" not in text
            await pilot.press("n")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "it to close")
            assert app.is_running and app.return_code is None


async def test_quit_with_a_frame_due_exits_cleanly(tmp_path: Path) -> None:
    """Quit (y) while a sync runs and a frame is due, as it nearly always is while a sync
    reports progress. The running sync takes a moment to stop, as a real batch does: the
    frame must not be drawn over widgets already gone or a store already closed (it used to
    be, and the console exited with WorkerFailed: NoMatches / StoreError)."""
    clock = ManualClock(0.0)
    console = make_console(tmp_path, clock=clock)
    console.services["orders"].wind_down_s = 1.0
    async with running(console) as pilot:
        app = console.app
        request_id = await start_held_run(pilot, console)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit question")
        await until(pilot, lambda: redraw_idle(app), "no frame due yet")
        clock.now = -0.4  # the last frame was at 0: the next one is due in 0.5 s
        # what any event (progress, another process's request) does:
        app.main.limiter.request_redraw()
        assert app.main.limiter._refresh_handle is not None
        await pilot.press("y")
    store = SQLiteStore(console.db)
    await store.open()
    try:
        assert [r.outcome for r in await store.runs(service="orders")] == [RunOutcome.INTERRUPTED]
        assert (await store.get_request(request_id)).state == RequestState.QUEUED
    finally:
        await store.close()


# -- the command palette ------------------------------------------------------------------


def _hit_text(command_list: CommandList, index: int) -> str:
    option = command_list.get_option_at_index(index)
    hit = getattr(option, "hit", None)
    return "" if hit is None else str(hit.text)


async def enter_text(pilot: Pilot[None], text: str, *, typed: bool) -> None:
    """Type `text` key by key, or paste it at once (as a terminal's bracketed paste does):
    pasting is one event instead of one ~85 ms pilot round trip per character."""
    if typed:
        await pilot.press(*text)
    else:
        pilot.app.post_message(events.Paste(text))
        await pilot.pause()


async def open_palette(pilot: Pilot[None], text: str, *, typed: bool) -> CommandList:
    app = pilot.app
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the command palette")
    await enter_text(pilot, text, typed=typed)
    return app.screen.query_one(CommandList)


async def run_palette(pilot: Pilot[None], title: str) -> None:
    """Type a command's whole name into the palette, key by key (each key starts a new search
    that must not leave an earlier one's results on top), and press enter on the top hit."""
    command_list = await open_palette(pilot, title, typed=True)

    def top_hit() -> bool:
        return (
            command_list.option_count > 0
            and command_list.highlighted == 0
            and _hit_text(command_list, 0) == title
        )

    await until(pilot, top_hit, f"{title!r} to be the palette's top hit")
    await pilot.press("enter")
    await until(
        pilot, lambda: not isinstance(pilot.app.screen, CommandPalette), "the palette to close"
    )


async def palette_has_no_match(pilot: Pilot[None], text: str) -> None:
    """The palette finds nothing for `text` (pasted: this runs nothing, so one search will do)."""
    command_list = await open_palette(pilot, text, typed=False)

    def no_matches() -> bool:
        try:
            command_list.get_option(CommandPalette._NO_MATCHES)
        except Exception:
            return False
        return True

    await until(pilot, no_matches, f"the palette to find nothing for {text!r}")
    titles = [_hit_text(command_list, i) for i in range(command_list.option_count)]
    assert text not in titles
    await pilot.press("escape")
    await until(
        pilot, lambda: not isinstance(pilot.app.screen, CommandPalette), "the palette to close"
    )


@pytest.mark.parametrize(
    ("title", "service", "mode"),
    [
        ("Sync orders (full)", "orders", "full"),
        ("Sync prices (incremental)", "prices", "incremental"),
        ("Sync customers (auto)", "customers", "auto"),
    ],
)
async def test_palette_sync_commands(tmp_path: Path, title: str, service: str, mode: str) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        orch = console.orch
        await orch.pause()
        await run_palette(pilot, title)

        async def reached() -> bool:
            return queued(await orch.snapshot()) == {service: (mode, "manual")}

        await until(pilot, reached, f"{title!r} to queue a request")


async def test_palette_pause_and_resume_dispatching(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        # p, a, s, c, h, i typed into the palette's input must not act as keys.
        await run_palette(pilot, "Pause dispatching")

        async def paused(value: bool) -> bool:
            return (await orch.snapshot()).controls.dispatch_paused is value

        await until(pilot, lambda: paused(True), "the palette to pause dispatching")
        await until(
            pilot,
            lambda: app.main.snapshot is not None and app.main.snapshot.controls.dispatch_paused,
            "the console to see dispatching paused",
        )
        await run_palette(pilot, "Resume dispatching")
        await until(pilot, lambda: paused(False), "the palette to resume dispatching")
        snap = await orch.snapshot()
        assert not snap.controls.schedule_paused
        assert snap.queue == [] and snap.active is None
        assert await orch.history() == []


async def test_palette_pause_and_resume_schedule(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        await run_palette(pilot, "Pause schedule")

        async def paused(value: bool) -> bool:
            return (await orch.snapshot()).controls.schedule_paused is value

        await until(pilot, lambda: paused(True), "the palette to pause the schedule")
        await until(
            pilot,
            lambda: app.main.snapshot is not None and app.main.snapshot.controls.schedule_paused,
            "the console to see the schedule paused",
        )
        await run_palette(pilot, "Resume schedule")
        await until(pilot, lambda: paused(False), "the palette to resume the schedule")
        assert not (await orch.snapshot()).controls.dispatch_paused


async def test_palette_cancel_running_sync(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        request_id = await start_held_run(pilot, console)
        await run_palette(pilot, "Cancel running sync")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm dialog")
        assert not await request_cancel_asked(orch, request_id)  # nothing before the answer
        await pilot.press("y")
        await until(pilot, lambda: request_cancel_asked(orch, request_id), "the cancel")

        async def cancelled() -> bool:
            runs = await orch.history("orders")
            return [r.outcome for r in runs] == [RunOutcome.CANCELLED]

        await until(pilot, cancelled, "the run to end cancelled")


async def test_palette_history_of_a_service(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        for service in ("prices", "orders"):
            await orch.wait((await orch.request(service, SyncMode.FULL)).id, timeout=WAIT)
        await run_palette(pilot, "History of prices")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history screen")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert screen.service == "prices"  # not the selected service (orders)
        assert [r.id for r in screen.runs] == [r.id for r in await orch.history("prices")]
        assert len(screen.runs) == 1
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HistoryScreen), "escape")


async def test_palette_filter_help_and_quit(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app, orch = console.app, console.orch
        await orch.pause()
        await orch.request("orders", SyncMode.FULL)
        await orch.request("prices", SyncMode.FULL)
        log = app.query_one(EventLog)
        await until(
            pilot,
            lambda: any(" prices " in line for line in log.lines_kept),
            "the prices request to reach the event log",
        )

        await run_palette(pilot, "Filter event log")
        await until(pilot, lambda: bool(app.query(FilterBar)), "the filter box to mount")
        bar = app.query_one(FilterBar)
        await until(pilot, lambda: bar.is_open, "the filter box")
        await pilot.press(*"prices", "enter")
        await until(pilot, lambda: not bar.is_open, "the filter box to close")
        shown = [strip.text.rstrip() for strip in log.lines]
        assert shown and all("prices" in line for line in shown)
        assert len(shown) < len(log.lines_kept)

        await run_palette(pilot, "Help")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        assert {a.help for a in ACTIONS} <= set(help_rows(app))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help to close")

        assert queued(await orch.snapshot()) == {
            "orders": ("full", "manual"),
            "prices": ("full", "manual"),
        }
        await run_palette(pilot, "Quit")
        await until(pilot, lambda: app.return_code is not None, "the palette's Quit to exit")
    store = SQLiteStore(console.db)
    await store.open()
    try:
        assert await lease_released(store)
        assert len((await store.view(history=False)).queued) == 2  # quitting cancels nothing
    finally:
        await store.close()


# -- read-only ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def daemon_with_work(
    tmp_path: Path,
) -> AsyncIterator[tuple[Orchestrator, dict[str, HeldService], int, dict[str, int]]]:
    """Another process's runner: orders running (held), dispatching paused, two queued."""
    db = tmp_path / "syncdeck.db"
    runner, services = make_orchestrator(db)
    await runner.start()
    try:
        deadline = time.monotonic() + WAIT
        while not runner.is_runner:
            assert time.monotonic() < deadline, "the daemon did not take the lease"
            await asyncio.sleep(0.02)
        services["orders"].hold()
        running_id = (await runner.request("orders", SyncMode.FULL)).id
        while (await runner.snapshot()).active is None:
            assert time.monotonic() < deadline, "the daemon did not start the sync"
            await asyncio.sleep(0.02)
        await runner.pause()
        queued_ids = {
            s: (await runner.request(s, SyncMode.FULL)).id for s in ("customers", "products")
        }
        yield runner, services, running_id, queued_ids
    finally:
        services["orders"].release.set()
        await runner.stop()


def core_state(snap: Snapshot) -> object:
    return (
        snap.controls,
        [(e.request.id, e.request.service, e.request.mode, e.request.priority) for e in snap.queue],
        None
        if snap.active is None
        else (
            snap.active.request.id,
            snap.active.request.state,
            snap.active.request.cancel_requested,
        ),
    )


async def test_read_only_mutating_keys_change_nothing(tmp_path: Path) -> None:
    async with daemon_with_work(tmp_path) as (runner, services, running_id, _):
        before = core_state(await runner.snapshot())
        console = make_console(tmp_path, read_only=True, runner=False)
        async with running(console) as pilot:
            app = console.app

            def sees_work() -> bool:
                snap = app.main.snapshot
                return snap is not None and snap.active is not None and len(snap.queue) == 2

            await until(pilot, sees_work, "the viewer to see the daemon's work")
            assert "READ-ONLY" in screen_text(app)
            mutating = [
                k for a in ACTIONS if a.mutating for k in a.keys.split(",")
            ]  # f i a c plus equals_sign minus p s
            await pilot.press(*mutating)
            await pilot.press("tab")
            assert app.focused is app.query_one(QueueTable)
            assert app.query_one(QueueTable).selected is not None
            await pilot.press(*mutating)
            assert not isinstance(app.screen, ConfirmScreen)
            # Keys are handled in order: once h has opened history, the keys before it are done.
            await pilot.press("shift+tab", "h")
            await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "history (h)")
            assert core_state(await app.orch.snapshot()) == before
            assert core_state(await runner.snapshot()) == before
            assert services["orders"].runs == 1
            assert not services["orders"].saw_cancel
        assert not console.app.is_running
        after = await runner.snapshot()
        assert core_state(after) == before  # quitting the viewer interrupted nothing
        assert after.active is not None and after.active.request.id == running_id


@pytest.mark.parametrize("read_only", [False, True])
async def test_footer_help_and_palette_offer_mutating_actions_only_when_writable(
    tmp_path: Path, read_only: bool
) -> None:
    console = make_console(tmp_path, read_only=read_only, runner=not read_only)
    async with running(console) as pilot:
        app = console.app
        # Each pane's footer offers exactly the keys that act there, and no key that
        # changes anything in a read-only console (`r` only on an open circuit: none here).
        for place, key in (("services", None), ("queue", "tab"), ("events", "tab")):
            if key:
                await pilot.press(key)
            assert app.main.place() == place
            acting = {
                a.action
                for a in ACTIONS
                if a.footer
                and place in a.where
                and not (read_only and a.mutating)
                and a.only_when is None
            }
            assert footer_actions(app) == acting | {"command_palette"}, place
            offered_mutating = {
                a for a in footer_actions(app) if a.split("(")[0] in MUTATING_ACTIONS
            }
            assert bool(offered_mutating) is not read_only, place
        await pilot.press("tab")

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        rows = set(help_rows(app))
        for action in ACTIONS:
            assert (action.help in rows) is (not action.mutating or not read_only), action.action
        assert ("(read-only)" in screen_text(app)) is read_only
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help to close")

        titles = [c.title for c in app.get_system_commands(app.screen)]
        writable = ["Sync orders (full)", "Pause dispatching", "Pause schedule"]
        writable.append("Cancel running sync")
        for title in writable:
            assert (title in titles) is not read_only, title
        assert "History of orders" in titles
        if read_only:
            await palette_has_no_match(pilot, "Sync orders (full)")
            await palette_has_no_match(pilot, "Pause dispatching")
        await run_palette(pilot, "History of orders")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history screen")


async def test_read_only_quit_does_not_ask_and_leaves_the_daemon_running(
    tmp_path: Path,
) -> None:
    async with daemon_with_work(tmp_path) as (runner, _, running_id, _):
        console = make_console(tmp_path, read_only=True, runner=False)
        async with running(console) as pilot:
            app = console.app
            await until(
                pilot,
                lambda: app.main.snapshot is not None and app.main.snapshot.active is not None,
                "the viewer to see the running sync",
            )
            await pilot.press("q")
            assert app.return_code is not None, "q did not quit the read-only console"
            assert not isinstance(app.screen, ConfirmScreen)
        assert not console.app.is_running
        snap = await runner.snapshot()
        assert snap.active is not None and snap.active.request.id == running_id
        assert snap.active.request.state == RequestState.RUNNING
        assert runner.is_runner
