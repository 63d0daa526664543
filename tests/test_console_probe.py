"""`r`, probe now, and the palette's "Probe SERVICE now" (issue 21 item 10), through Pilot.

Each test drives a real `SyncdeckApp` over a real orchestrator and SQLite store
(helpers from `test_console_keys`): a service that keeps failing opens its circuit
(three failures, a cooldown of 300 s), the ERP is then "fixed" (a service that
succeeds), and the key or the palette lets the queued request run at once, which
closes the circuit, long before the cooldown ends. Pressed where the circuit is not
open, or in a read-only console, the key says why it does nothing.
"""

from __future__ import annotations

from pathlib import Path

from test_console_keys import (
    Console,
    HeldService,
    bar_text,
    footer_actions,
    make_console,
    palette_has_no_match,
    run_palette,
    running,
    screen_text,
    stays,
    toast_said,
    until,
)
from test_console_operator import FailingService, _finish
from textual.pilot import Pilot

from console.tui.app import SyncdeckApp
from console.tui.widgets.queue import QueueTable
from console.tui.widgets.services import ServicesTable
from core.models import CircuitState, EventKind, RunOutcome, SyncMode
from core.orchestrator.identity import os_user

NARROW = (80, 24)


def r_painted(app: SyncdeckApp) -> bool:
    """Whether the footer on screen now (not as it would render if asked) shows `r`, with
    its own label or sharing the Sync one."""
    footer = screen_text(app).splitlines()[-1]
    return "r Probe" in footer or "/r Sync" in footer


async def open_then_fix(console: Console, pilot: Pilot[None], service: str) -> int:
    """`service` fails three times (its circuit opens), then its ERP is fixed; a request
    queued since waits out the cooldown. Returns that request's id."""
    orch = console.orch
    orch._services[service] = FailingService(service)
    for _ in range(3):
        await _finish(orch, service)
    fixed = HeldService(service)
    orch._services[service] = fixed
    console.services[service] = fixed
    request = await orch.request(service, SyncMode.FULL)
    snap = await orch.snapshot()
    [entry] = [e for e in snap.queue if e.request.id == request.id]
    assert entry.ready_at is not None and entry.ready_at > snap.at  # the cooldown holds it
    main = console.app.main
    await until(
        pilot,
        lambda: main.snapshot is not None and len(main.snapshot.queue) == 1,
        "the console to see the held request",
    )
    return request.id


async def circuit(console: Console, service: str) -> CircuitState:
    return next(s.circuit for s in await console.orch.services() if s.name == service)


async def test_r_probes_the_selected_services_open_circuit_now(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console, NARROW) as pilot:
        app, orch = console.app, console.orch
        request_id = await open_then_fix(console, pilot, "orders")
        assert app.query_one(ServicesTable).selected == "orders"
        # The circuit opened under the selection: the next frame paints r.
        await until(pilot, lambda: r_painted(app), "r in the footer")
        # At 80 columns r shares the Sync label; every key of the pane stays, paused too.
        await orch.pause_schedule()
        await until(pilot, lambda: "s Resume sched" in bar_text(app), "the schedule paused")
        bar = bar_text(app)
        assert "f/i/a/r Sync" in bar and "? Help q Quit" in bar and len(bar) <= 80, bar

        console.services["orders"].hold()
        await pilot.press("r")

        async def probing() -> bool:
            active = (await orch.snapshot()).active
            return active is not None and active.request.id == request_id

        await until(pilot, probing, "the queued request to start at once, as the probe")
        assert (await circuit(console, "orders")) == CircuitState.HALF_OPEN
        said = f"Request #{request_id} probes orders now."
        await until(pilot, lambda: toast_said(app, said), "a toast to say the probe runs")
        console.services["orders"].release.set()

        async def closed() -> bool:
            return (await circuit(console, "orders")) == CircuitState.CLOSED

        await until(pilot, closed, "the probe's success to close the circuit")
        ended = await orch.get_request(request_id)
        assert ended.outcome == RunOutcome.SUCCEEDED
        assert console.services["orders"].runs == 1
        events = await orch.events_since(0, 1000)
        [asked] = [e for e in events if e.kind == EventKind.CIRCUIT_PROBE_REQUESTED]
        assert asked.data["by"] == "console" and asked.data["subject"] == os_user()
        assert asked.data["source"] == "manual" and asked.request_id == request_id
        await until(pilot, lambda: not r_painted(app), "r to leave the footer")

        await pilot.press("r")  # closed now: the store says so, nothing is queued
        await until(
            pilot,
            lambda: toast_said(app, "the orders circuit is closed: nothing to probe"),
            "r on a closed circuit to say so",
        )

        async def nothing_queued() -> bool:
            return (await orch.snapshot()).queue == []

        await stays(pilot, nothing_queued, "r on a closed circuit must queue nothing")


async def test_r_in_the_queue_probes_the_entrys_service(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        app = console.app
        request_id = await open_then_fix(console, pilot, "prices")
        services = app.query_one(ServicesTable)
        assert services.selected == "orders"  # closed: no r there
        assert "probe" not in footer_actions(app)
        await pilot.press("down", "down", "down")  # the footer on screen follows the row
        assert services.selected == "prices"
        await until(pilot, lambda: r_painted(app), "r on the prices row")
        await pilot.press("up")
        await until(pilot, lambda: not r_painted(app), "no r on products")
        await pilot.press("tab")
        assert app.query_one(QueueTable).selected == request_id
        await until(pilot, lambda: "probe" in footer_actions(app), "r in the queue's footer")

        await pilot.press("r")

        async def probed() -> bool:
            return (await console.orch.get_request(request_id)).outcome == RunOutcome.SUCCEEDED

        await until(pilot, probed, "the prices request to run as the probe")
        assert (await circuit(console, "prices")) == CircuitState.CLOSED
        assert (await circuit(console, "orders")) == CircuitState.CLOSED


async def test_the_palette_offers_a_probe_for_each_open_circuit(tmp_path: Path) -> None:
    console = make_console(tmp_path)
    async with running(console) as pilot:
        await palette_has_no_match(pilot, "Probe customers now")
        request_id = await open_then_fix(console, pilot, "customers")

        await run_palette(pilot, "Probe customers now")

        async def probed() -> bool:
            return (await console.orch.get_request(request_id)).outcome == RunOutcome.SUCCEEDED

        await until(pilot, probed, "the palette's probe to run the customers request")
        assert (await circuit(console, "customers")) == CircuitState.CLOSED


async def test_a_read_only_console_says_so_and_offers_no_probe(tmp_path: Path) -> None:
    console = make_console(tmp_path, read_only=True, runner=False)
    async with running(console) as pilot:
        app = console.app
        await pilot.press("r")
        await until(pilot, lambda: toast_said(app, "read-only console"), "r to say read-only")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert not [t for t in titles if t.startswith("Probe ")]
        assert (await console.orch.events_since(0, 1000)) == []
