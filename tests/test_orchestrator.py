"""The orchestrator end to end on a real SQLite file, with small controllable services."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support.clock import ManualClock

from core.config import Settings
from core.errors import (
    NotFound,
    StoreError,
    StoreReplaced,
    SyncError,
    TransientError,
    UnknownService,
)
from core.models import (
    CircuitState,
    Event,
    EventKind,
    HealthState,
    RequestState,
    RunCounts,
    RunOutcome,
    Snapshot,
    SyncMode,
    to_datetime,
)
from core.orchestrator import Orchestrator
from core.store import SQLiteStore
from core.sync.service import RunContext

T0 = 1_800_000_000.0
WAIT = 10.0
"""Upper bound on any wait for something that should happen promptly."""


class Service:
    """A controllable service.

    - `gate`: each run waits for it (set by default, so runs pass straight through);
    - `fail_times`: the first N runs raise `error` (a TransientError by default);
    - `fail`: while True every run raises `error`;
    - `started` is set when a run starts; `log` collects the names of started runs.
    """

    def __init__(
        self,
        name: str,
        log: list[str] | None = None,
        *,
        gated: bool = False,
        fail_times: int = 0,
        error: Callable[[], BaseException] | None = None,
        counts: RunCounts | None = None,
    ) -> None:
        self.name = name
        self.log = log if log is not None else []
        self.gate = asyncio.Event()
        if not gated:
            self.gate.set()
        self.started = asyncio.Event()
        self.fail_times = fail_times
        self.fail = False
        self.error = error or (lambda: TransientError(f"{name}: ERP unavailable"))
        self.counts = counts or RunCounts(fetched=1, unchanged=1)
        self.runs = 0
        self.contexts: list[RunContext] = []
        self.cancelled_errors = 0

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        if requested == SyncMode.AUTO:
            return SyncMode.INCREMENTAL, "test: auto means incremental"
        return requested, "requested"

    async def run(self, ctx: RunContext) -> RunCounts:
        self.runs += 1
        self.contexts.append(ctx)
        self.log.append(self.name)
        self.started.set()
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled_errors += 1
            raise
        if self.fail or self.runs <= self.fail_times:
            raise self.error()
        return self.counts


class CooperativeService(Service):
    """Checks its cancel flag between small batches, as a real service does."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.saw_cancel = False

    async def run(self, ctx: RunContext) -> RunCounts:
        self.contexts.append(ctx)
        self.started.set()
        try:
            while True:
                if ctx.cancelled:
                    self.saw_cancel = True
                ctx.check_cancelled()
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            self.cancelled_errors += 1
            raise


class ProgressService(Service):
    """Reports progress every few milliseconds for a while."""

    def __init__(self, name: str, reports: int, pause_s: float) -> None:
        super().__init__(name)
        self.reports = reports
        self.pause_s = pause_s

    async def run(self, ctx: RunContext) -> RunCounts:
        for done in range(1, self.reports + 1):
            ctx.report("fetching", done, self.reports)
            await asyncio.sleep(self.pause_s)
        return RunCounts(fetched=self.reports)


def deep_update(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = value
    return out


def settings(data_dir: Path, schedule: bool = False, **orchestrator: Any) -> Settings:
    base: dict[str, Any] = {
        "heartbeat_s": 0.2,
        "lease_ttl_s": 10_000.0,
        "cancel_grace_s": 10.0,
        "retry": {"tries": 1, "backoff_s": [0.0]},
        "circuit": {"failure_threshold": 10, "cooldown_s": 300.0},
    }
    return Settings.from_values(
        data_dir=data_dir,
        schedule={"enabled": schedule},
        orchestrator=deep_update(base, orchestrator),
    )


@pytest.fixture(autouse=True)
def _no_stray_config(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("SYNCDECK_"):
            monkeypatch.delenv(key)


Factory = Callable[..., Orchestrator]


@pytest.fixture
async def make(data_dir: Path) -> AsyncIterator[Factory]:
    """Orchestrators on one store file, optionally on a fake store clock; stopped at teardown."""
    made: list[Orchestrator] = []

    def factory(
        services: list[Service],
        cfg: Settings | None = None,
        clock: ManualClock | None = None,
        **kwargs: Any,
    ) -> Orchestrator:
        path = data_dir / "syncdeck.db"
        store = SQLiteStore(path, clock=clock) if clock else SQLiteStore(path)
        orch = Orchestrator(
            store, {s.name: s for s in services}, cfg or settings(data_dir), **kwargs
        )
        made.append(orch)
        return orch

    yield factory
    for orch in made:
        await orch.stop()


async def started(orch: Orchestrator) -> Orchestrator:
    await orch.start()
    return orch


async def wait_for(event: asyncio.Event, timeout: float = WAIT) -> None:
    await asyncio.wait_for(event.wait(), timeout)


async def until(predicate: Callable[[], Any], timeout: float = WAIT) -> None:
    """Poll an async or sync condition until it holds (condition wait, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def next_event(sub: Any, kind: EventKind, timeout: float = WAIT) -> Event:
    async def find() -> Event:
        async for event in sub:
            if event.kind == kind:
                found: Event = event
                return found
        raise AssertionError("subscription ended")

    return await asyncio.wait_for(find(), timeout)


def service_view(snap: Snapshot, name: str) -> Any:
    [view] = [s for s in snap.services if s.name == name]
    return view


# -- requests and waiting ----------------------------------------------------------


async def test_request_returns_at_once_while_a_long_run_is_in_progress(make: Factory) -> None:
    orders = Service("orders", gated=True)
    prices = Service("prices")
    orch = await started(make([orders, prices]))
    first = await orch.request("orders")
    await wait_for(orders.started)

    second = await asyncio.wait_for(orch.request("prices", mode="full"), 2.0)
    assert not orders.gate.is_set()  # the long run is still going
    assert second.state == RequestState.QUEUED
    assert second.mode == SyncMode.FULL
    snap = await orch.snapshot()
    assert snap.active is not None and snap.active.request.id == first.id
    assert [e.request.id for e in snap.queue] == [second.id]
    assert service_view(snap, "orders").state == "running"
    assert service_view(snap, "prices").state == "queued"

    orders.gate.set()
    assert (await orch.wait(second.id, timeout=WAIT)).outcome == RunOutcome.SUCCEEDED
    assert (await orch.wait(first.id, timeout=WAIT)).outcome == RunOutcome.SUCCEEDED


async def test_request_for_the_running_service_is_queued_once_and_runs_after(
    make: Factory,
) -> None:
    orders = Service("orders", gated=True)
    orch = await started(make([orders]))
    first = await orch.request("orders", mode="incremental")
    await wait_for(orders.started)

    second = await orch.request("orders")
    third = await orch.request("orders", mode="full")
    assert second.id != first.id
    assert second.state == RequestState.QUEUED and second.merged == 0
    assert third.id == second.id
    assert third.merged == 1 and third.mode == SyncMode.FULL
    assert len((await orch.snapshot()).queue) == 1

    orders.gate.set()
    result = await orch.wait(second.id, timeout=WAIT)
    assert result.outcome == RunOutcome.SUCCEEDED
    assert result.run is not None and result.run.mode == SyncMode.FULL
    runs = await orch.history("orders")
    assert [r.request_id for r in runs] == [second.id, first.id]
    assert orders.runs == 2


async def test_wait_returns_the_finished_request_and_its_run(make: Factory) -> None:
    counts = RunCounts(fetched=7, inserted=3, updated=2, unchanged=1, deleted=1, rejected=0)
    orders = Service("orders", counts=counts)
    orch = await started(make([orders]))
    request = await orch.request("orders")
    result = await orch.wait(request.id, timeout=WAIT)
    assert result.request.id == request.id
    assert result.request.state == RequestState.FINISHED
    assert result.outcome == RunOutcome.SUCCEEDED
    run = result.run
    assert run is not None
    assert run.request_id == request.id
    assert run.outcome == RunOutcome.SUCCEEDED
    assert run.counts == counts
    assert (run.requested_mode, run.mode) == (SyncMode.AUTO, SyncMode.INCREMENTAL)
    assert run.mode_reason == "test: auto means incremental"
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.started_at.tzinfo is not None
    # waiting on an ended request returns at once
    again = await asyncio.wait_for(orch.wait(request.id), 2.0)
    assert again.run == run


async def test_wait_times_out_on_a_request_that_does_not_end(make: Factory) -> None:
    orders = Service("orders", gated=True)
    orch = await started(make([orders]))
    request = await orch.request("orders")
    with pytest.raises(TimeoutError):
        await orch.wait(request.id, timeout=0.2)
    orders.gate.set()
    assert (await orch.wait(request.id, timeout=WAIT)).outcome == RunOutcome.SUCCEEDED


async def test_unknown_service_is_refused(make: Factory) -> None:
    orch = await started(make([Service("orders")]))
    with pytest.raises(UnknownService, match="nope"):
        await orch.request("nope")
    with pytest.raises(UnknownService):
        await orch.set_default_priority("nope", 3)
    with pytest.raises(UnknownService):
        await orch.history("nope")
    assert (await orch.snapshot()).queue == []


async def test_a_client_read_that_finds_the_store_replaced_stops_its_use_at_once(
    make: Factory, data_dir: Path
) -> None:
    """A console's snapshot meeting a replaced file: the orchestrator stops using the store
    then (no runner here any more), not at its runner's next heartbeat, a minute away."""
    cfg = settings(data_dir, lease_ttl_s=120.0, heartbeat_s=60.0)
    orch = await started(make([Service("orders")], cfg))
    await until(lambda: orch.is_runner)
    other = SQLiteStore(data_dir / "other.db")
    await other.open()
    await other.close()
    os.replace(data_dir / "other.db", data_dir / "syncdeck.db")
    with pytest.raises(StoreReplaced):
        await orch.snapshot()
    assert isinstance(orch.fault, StoreReplaced)
    assert not orch.is_runner


async def test_clients_read_the_store_through_the_public_api(make: Factory) -> None:
    """What a console, the CLI or an HTTP API needs, without reaching for the store."""
    orders = Service("orders", gated=True)
    orch = await started(make([orders, Service("prices")]))
    with pytest.raises(NotFound):
        await orch.get_request(999)
    before = await orch.last_event_id()
    request = await orch.request("orders")
    assert (await orch.get_request(request.id)).service == "orders"
    await orch.pause_schedule()
    assert (await orch.controls()).schedule_paused
    await orch.set_schedule("prices", interval_s=120)
    by_name = {s.name: s for s in await orch.services()}
    assert set(by_name) == {"orders", "prices"} and by_name["prices"].interval_s == 120
    after = await orch.events_since(before)
    assert after and [e.id for e in after] == sorted(e.id for e in after)
    assert all(e.id > before for e in after)
    assert await orch.last_event_id() >= after[-1].id  # the runner may have appended more
    assert [e.id for e in await orch.events_since(before, limit=1)] == [after[0].id]
    orders.gate.set()
    assert (await orch.wait(request.id, timeout=WAIT)).outcome == RunOutcome.SUCCEEDED


# -- ordering -----------------------------------------------------------------------


async def test_priority_orders_then_customers_then_products_then_prices(
    make: Factory, data_dir: Path
) -> None:
    log: list[str] = []
    names = ["prices", "products", "customers", "orders"]
    services = [Service(n, log) for n in names]
    orch = await started(make(services, clock=ManualClock(T0)))
    await orch.pause()
    requests = [await orch.request(n) for n in names]  # lowest priority first
    snap = await orch.snapshot()
    assert [e.request.service for e in snap.queue] == names[::-1]
    assert [e.position for e in snap.queue] == [1, 2, 3, 4]
    await orch.resume()
    for r in requests:
        await orch.wait(r.id, timeout=WAIT)
    assert log == ["orders", "customers", "products", "prices"]


async def test_equal_priorities_run_first_come_first_served(make: Factory) -> None:
    log: list[str] = []
    names = ["zeta", "alpha", "mid", "orders"]
    orch = await started(make([Service(n, log) for n in names], clock=ManualClock(T0)))
    await orch.pause()
    requests = [await orch.request(n, priority=5) for n in names]
    await orch.resume()
    for r in requests:
        await orch.wait(r.id, timeout=WAIT)
    assert log == names


async def test_aging_lets_a_long_waiting_request_overtake(make: Factory, data_dir: Path) -> None:
    clock = ManualClock(T0)
    log: list[str] = []
    cfg = settings(data_dir, aging_step_s=60.0)
    orch = await started(make([Service("orders", log), Service("prices", log)], cfg, clock=clock))
    await orch.pause()
    prices = await orch.request("prices")  # priority 1
    clock.advance(200)  # 200 s at 60 s per point: 1 + 3.33 > 4
    orders = await orch.request("orders")  # priority 4
    snap = await orch.snapshot()
    assert [e.request.service for e in snap.queue] == ["prices", "orders"]
    assert snap.queue[0].effective_priority == pytest.approx(1 + 200 / 60, abs=1e-3)
    assert snap.queue[0].waited_s == pytest.approx(200)
    assert snap.queue[1].effective_priority == pytest.approx(4)
    await orch.resume()
    await orch.wait(orders.id, timeout=WAIT)
    await orch.wait(prices.id, timeout=WAIT)
    assert log == ["prices", "orders"]


async def test_set_priority_reorders_the_queue(make: Factory) -> None:
    log: list[str] = []
    orch = await started(
        make([Service("orders", log), Service("prices", log)], clock=ManualClock(T0))
    )
    sub = orch.events()
    await orch.pause()
    orders = await orch.request("orders")
    prices = await orch.request("prices")
    assert [e.request.id for e in (await orch.snapshot()).queue] == [orders.id, prices.id]
    await orch.set_priority(prices.id, 50)
    changed = await next_event(sub, EventKind.PRIORITY_CHANGED)
    assert (changed.request_id, changed.data) == (prices.id, {"old": 1, "new": 50})
    assert [e.request.id for e in (await orch.snapshot()).queue] == [prices.id, orders.id]
    with pytest.raises(StoreError):
        await orch.set_priority(prices.id, 101)
    await orch.resume()
    await orch.wait(orders.id, timeout=WAIT)
    assert log == ["prices", "orders"]


async def test_default_priority_persists_across_orchestrators(
    make: Factory, data_dir: Path
) -> None:
    first = await started(make([Service("orders"), Service("prices")]))
    await first.set_default_priority("prices", 42)
    with pytest.raises(StoreError):
        await first.set_default_priority("prices", 101)
    await first.stop()

    second = await started(make([Service("orders"), Service("prices")]))
    snap = await second.snapshot()
    assert service_view(snap, "prices").priority == 42
    assert service_view(snap, "orders").priority == 4
    await second.pause()
    request = await second.request("prices")
    assert request.priority == 42


async def test_pause_accepts_requests_but_starts_nothing_until_resume(make: Factory) -> None:
    orders = Service("orders")
    orch = await started(make([orders]))
    sub = orch.events()
    await orch.pause()
    await next_event(sub, EventKind.DISPATCH_PAUSED)
    request = await orch.request("orders")
    assert request.state == RequestState.QUEUED
    snap = await orch.snapshot()
    assert snap.controls.dispatch_paused
    assert [e.request.id for e in snap.queue] == [request.id]
    # a bounded negative check: several runner heartbeats (0.2 s) pass without a start
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(orders.started.wait(), 0.7)
    assert (await orch.get_request(request.id)).state == RequestState.QUEUED

    await orch.resume()
    await wait_for(orders.started)
    assert (await orch.wait(request.id, timeout=WAIT)).outcome == RunOutcome.SUCCEEDED
    assert not (await orch.snapshot()).controls.dispatch_paused


# -- failures, retries, timeouts ------------------------------------------------------


async def test_transient_failure_is_retried_with_backoff_then_succeeds(
    make: Factory, data_dir: Path
) -> None:
    orders = Service("orders", fail_times=2)
    cfg = settings(data_dir, retry={"tries": 3, "backoff_s": [0.2, 0.3]})
    orch = await started(make([orders], cfg))
    request = await orch.request("orders")
    result = await orch.wait(request.id, timeout=WAIT)
    assert result.outcome == RunOutcome.SUCCEEDED
    assert result.request.attempt == 3
    runs = sorted(await orch.history("orders"), key=lambda r: r.id)
    assert [r.request_id for r in runs] == [request.id] * 3
    assert [r.attempt for r in runs] == [1, 2, 3]
    assert [r.outcome for r in runs] == [RunOutcome.FAILED, RunOutcome.FAILED, RunOutcome.SUCCEEDED]
    assert runs[0].error_class == "TransientError"
    assert runs[0].error == "orders: ERP unavailable"
    gap1 = (runs[1].started_at - runs[0].finished_at).total_seconds()  # type: ignore[operator]
    gap2 = (runs[2].started_at - runs[1].finished_at).total_seconds()  # type: ignore[operator]
    assert gap1 >= 0.15, gap1
    assert gap2 >= 0.25, gap2
    view = service_view(await orch.snapshot(), "orders")
    assert view.consecutive_failures == 0
    assert view.health == HealthState.HEALTHY


async def test_transient_failure_ends_failed_after_tries(make: Factory, data_dir: Path) -> None:
    orders = Service("orders")
    orders.fail = True
    cfg = settings(data_dir, retry={"tries": 3, "backoff_s": [0.01]})
    orch = await started(make([orders], cfg))
    request = await orch.request("orders")
    result = await orch.wait(request.id, timeout=WAIT)
    assert result.outcome == RunOutcome.FAILED
    assert result.request.state == RequestState.FINISHED
    assert orders.runs == 3
    runs = await orch.history("orders")
    assert len(runs) == 3 and all(r.outcome == RunOutcome.FAILED for r in runs)
    assert result.run is not None and result.run.attempt == 3
    assert (await orch.snapshot()).queue == []


@pytest.mark.parametrize("error", [SyncError, ValueError])
async def test_permanent_error_is_not_retried(
    make: Factory, data_dir: Path, error: type[Exception]
) -> None:
    orders = Service("orders", fail_times=1, error=lambda: error("mapping is wrong"))
    cfg = settings(data_dir, retry={"tries": 3, "backoff_s": [0.0]})
    orch = await started(make([orders], cfg))
    request = await orch.request("orders")
    result = await orch.wait(request.id, timeout=WAIT)
    assert result.outcome == RunOutcome.FAILED
    assert result.run is not None
    assert (result.run.error_class, result.run.error) == (error.__name__, "mapping is wrong")
    assert orders.runs == 1
    assert len(await orch.history("orders")) == 1


async def test_run_timeout_ends_timed_out_and_stops_the_service(
    make: Factory, data_dir: Path
) -> None:
    orders = Service("orders", gated=True)  # never released: only the timeout ends it
    cfg = settings(data_dir, run_timeout_s=0.3, retry={"tries": 2, "backoff_s": [0.0]})
    orch = await started(make([orders], cfg))
    request = await orch.request("orders")
    result = await orch.wait(request.id, timeout=WAIT)
    assert result.outcome == RunOutcome.TIMED_OUT
    runs = sorted(await orch.history("orders"), key=lambda r: r.id)
    assert [r.outcome for r in runs] == [RunOutcome.TIMED_OUT, RunOutcome.TIMED_OUT]
    assert [r.attempt for r in runs] == [1, 2]
    assert runs[0].error_class == "Timeout"
    assert all(r.duration is not None and r.duration >= 0.25 for r in runs)
    assert orders.cancelled_errors == 2  # the service task was stopped each time


# -- cancel -----------------------------------------------------------------------------


async def test_cancel_queued_request(make: Factory) -> None:
    orders = Service("orders")
    prices = Service("prices")
    orch = await started(make([orders, prices]))
    await orch.pause()
    request = await orch.request("orders")
    cancelled = await orch.cancel(request.id)
    assert cancelled.state == RequestState.CANCELLED
    result = await asyncio.wait_for(orch.wait(request.id), 2.0)
    assert result.outcome == RunOutcome.CANCELLED and result.run is None
    # a lower-priority request runs: had orders still been queued it would have gone first
    sentinel = await orch.request("prices")
    await orch.resume()
    assert (await orch.wait(sentinel.id, timeout=WAIT)).outcome == RunOutcome.SUCCEEDED
    assert orders.runs == 0
    assert await orch.history("orders") == []


async def test_cancel_running_is_cooperative(make: Factory, data_dir: Path) -> None:
    orders = CooperativeService("orders")
    orch = await started(make([orders], settings(data_dir, cancel_grace_s=30.0)))
    request = await orch.request("orders")
    await wait_for(orders.started)
    asked = await orch.cancel(request.id)
    assert asked.state == RequestState.RUNNING and asked.cancel_requested
    result = await orch.wait(request.id, timeout=WAIT)  # well before the 30 s hard deadline
    assert result.outcome == RunOutcome.CANCELLED
    assert result.request.state == RequestState.CANCELLED
    assert result.run is not None and result.run.outcome == RunOutcome.CANCELLED
    assert result.run.error_class == "Cancelled"
    assert orders.saw_cancel
    assert orders.cancelled_errors == 0  # it stopped by itself, not by force


async def test_cancel_running_hard_deadline_when_service_ignores_it(
    make: Factory, data_dir: Path
) -> None:
    orders = Service("orders", gated=True)  # never looks at ctx.cancelled
    grace = 0.4
    orch = await started(make([orders], settings(data_dir, cancel_grace_s=grace)))
    request = await orch.request("orders")
    await wait_for(orders.started)
    t0 = time.monotonic()
    await orch.cancel(request.id)
    assert orders.contexts[0].cancelled
    result = await orch.wait(request.id, timeout=WAIT)
    elapsed = time.monotonic() - t0
    assert result.outcome == RunOutcome.CANCELLED
    assert result.run is not None and result.run.outcome == RunOutcome.CANCELLED
    assert orders.cancelled_errors == 1
    assert elapsed >= grace * 0.9, elapsed


# -- circuit breaker and health -------------------------------------------------------------


async def test_circuit_opens_waits_out_cooldown_probes_once_and_closes(
    make: Factory, data_dir: Path
) -> None:
    clock = ManualClock(T0)
    orders = Service("orders")
    orders.fail = True
    prices = Service("prices")
    cfg = settings(
        data_dir,
        heartbeat_s=0.1,
        retry={"tries": 1},
        circuit={"failure_threshold": 3, "cooldown_s": 1000.0},
    )
    orch = await started(make([orders, prices], cfg, clock=clock))
    sub = orch.events()

    for n in range(1, 4):
        result = await orch.wait((await orch.request("orders")).id, timeout=WAIT)
        assert result.outcome == RunOutcome.FAILED
        view = service_view(await orch.snapshot(), "orders")
        assert view.consecutive_failures == n
        assert view.circuit == (CircuitState.OPEN if n == 3 else CircuitState.CLOSED)
    opened = await next_event(sub, EventKind.CIRCUIT_CHANGED)
    assert opened.data["circuit"] == "open"

    snap = await orch.snapshot()
    view = service_view(snap, "orders")
    assert view.state == "circuit_open"
    assert view.health == HealthState.UNHEALTHY
    assert "circuit open" in view.health_reasons
    assert "3 consecutive failures" in view.health_reasons
    assert snap.health == HealthState.UNHEALTHY

    # during the cooldown a request waits; a lower-priority one runs past it
    held = await orch.request("orders")
    sentinel = await orch.request("prices")
    assert (await orch.wait(sentinel.id, timeout=WAIT)).outcome == RunOutcome.SUCCEEDED
    assert (await orch.get_request(held.id)).state == RequestState.QUEUED
    assert orders.runs == 3

    # after the cooldown: one half-open probe, which fails and opens the circuit again
    orders.started.clear()
    orders.gate.clear()
    clock.advance(1001)
    await wait_for(orders.started)
    probe = service_view(await orch.snapshot(), "orders")
    assert probe.circuit == CircuitState.HALF_OPEN
    assert probe.state == "running"
    orders.gate.set()
    assert (await orch.wait(held.id, timeout=WAIT)).outcome == RunOutcome.FAILED
    view = service_view(await orch.snapshot(), "orders")
    assert view.circuit == CircuitState.OPEN
    assert orders.runs == 4

    # cooling down again: the next request waits until the new cooldown is over
    held = await orch.request("orders")
    sentinel = await orch.request("prices")
    assert (await orch.wait(sentinel.id, timeout=WAIT)).outcome == RunOutcome.SUCCEEDED
    assert (await orch.get_request(held.id)).state == RequestState.QUEUED

    orders.fail = False
    clock.advance(1001)
    assert (await orch.wait(held.id, timeout=WAIT)).outcome == RunOutcome.SUCCEEDED
    assert orders.runs == 5
    snap = await orch.snapshot()
    view = service_view(snap, "orders")
    assert view.circuit == CircuitState.CLOSED
    assert view.consecutive_failures == 0
    assert view.health == HealthState.HEALTHY and view.health_reasons == []
    assert snap.health == HealthState.HEALTHY

    circuits = [
        e.data["circuit"] for e in await orch.events_since(0) if e.kind == EventKind.CIRCUIT_CHANGED
    ]
    assert circuits == ["open", "half_open", "open", "half_open", "closed"]


async def test_health_degraded_and_unhealthy_with_reasons(make: Factory, data_dir: Path) -> None:
    clock = ManualClock(T0)
    orders = Service("orders", fail_times=1)
    prices = Service("prices")
    cfg = settings(data_dir, circuit={"failure_threshold": 3, "cooldown_s": 60.0})
    orch = await started(make([orders, prices], cfg, clock=clock))
    sub = orch.events()

    snap = await orch.snapshot()
    assert snap.health == HealthState.HEALTHY
    assert all(s.health == HealthState.HEALTHY for s in snap.services)

    await orch.wait((await orch.request("orders")).id, timeout=WAIT)
    snap = await orch.snapshot()
    orders_view = service_view(snap, "orders")
    assert orders_view.health == HealthState.DEGRADED
    assert orders_view.health_reasons == ["1 consecutive failure"]
    assert service_view(snap, "prices").health == HealthState.HEALTHY
    assert snap.health == HealthState.DEGRADED
    changed = await next_event(sub, EventKind.HEALTH_CHANGED)
    assert (changed.service, changed.data["new"]) == ("orders", "degraded")
    assert changed.id in {e.id for e in await orch.events_since(0)}

    # a success clears it; staleness degrades again (orders every 30 min, prices hourly)
    await orch.wait((await orch.request("orders")).id, timeout=WAIT)
    assert service_view(await orch.snapshot(), "orders").health == HealthState.HEALTHY
    clock.advance(2 * 1800 + 10)
    snap = await orch.snapshot()
    orders_view = service_view(snap, "orders")
    assert orders_view.health == HealthState.DEGRADED
    assert len(orders_view.health_reasons) == 1
    assert orders_view.health_reasons[0].startswith("last success 3610s ago")
    assert service_view(snap, "prices").health == HealthState.HEALTHY  # 2 h not yet reached
    clock.advance(3600)
    prices_view = service_view(await orch.snapshot(), "prices")
    assert prices_view.health == HealthState.DEGRADED
    assert prices_view.health_reasons == ["never synced successfully"]


# -- events -------------------------------------------------------------------------------


async def test_events_reach_subscribers_and_the_store_log(make: Factory) -> None:
    orders = Service("orders")
    orch = await started(make([orders]))
    sub = orch.events()
    await orch.pause()
    request = await orch.request("orders")
    merged = await orch.request("orders", mode="full")
    await orch.set_priority(request.id, 9)
    await orch.resume()
    result = await orch.wait(request.id, timeout=WAIT)
    assert merged.id == request.id and result.outcome == RunOutcome.SUCCEEDED

    seen: list[Event] = []

    async def collect() -> None:
        async for event in sub:
            seen.append(event)
            if event.kind == EventKind.REQUEST_FINISHED:
                return

    await asyncio.wait_for(collect(), WAIT)
    wanted = [
        EventKind.DISPATCH_PAUSED,
        EventKind.REQUEST_QUEUED,
        EventKind.REQUEST_MERGED,
        EventKind.PRIORITY_CHANGED,
        EventKind.DISPATCH_RESUMED,
        EventKind.RUN_STARTED,
        EventKind.RUN_FINISHED,
        EventKind.REQUEST_FINISHED,
    ]
    kinds = [e.kind for e in seen if e.kind in wanted]
    assert kinds == wanted
    for event in seen:
        if event.kind in wanted and event.kind not in (
            EventKind.DISPATCH_PAUSED,
            EventKind.DISPATCH_RESUMED,
        ):
            assert event.request_id == request.id
            assert event.service == "orders"

    stored = {e.id: e for e in await orch.events_since(0)}
    for event in seen:
        if event.kind in wanted:
            assert event.id > 0
            assert stored[event.id].kind == event.kind
            assert stored[event.id].request_id == event.request_id
    finished = next(e for e in seen if e.kind == EventKind.RUN_FINISHED)
    assert stored[finished.id].data["outcome"] == "succeeded"


async def test_progress_reaches_subscribers_and_is_persisted_at_a_bounded_rate(
    make: Factory, data_dir: Path
) -> None:
    reports, persist_s = 60, 0.15
    orders = ProgressService("orders", reports=reports, pause_s=0.01)
    orch = await started(make([orders], settings(data_dir, progress_persist_s=persist_s)))
    sub = orch.events()
    request = await orch.request("orders")
    result = await orch.wait(request.id, timeout=WAIT)
    assert result.outcome == RunOutcome.SUCCEEDED and result.run is not None

    live: list[Event] = []

    async def collect() -> None:
        async for event in sub:
            if event.kind == EventKind.RUN_PROGRESS:
                live.append(event)
            if event.kind == EventKind.REQUEST_FINISHED:
                return

    await asyncio.wait_for(collect(), WAIT)
    assert [e.data["done"] for e in live] == list(range(1, reports + 1))
    assert all(e.run_id == result.run.id and e.data["total"] == reports for e in live)

    persisted = [e for e in await orch.events_since(0) if e.kind == EventKind.RUN_PROGRESS]
    duration = result.run.duration or 0.0
    assert duration >= 0.3
    assert 1 <= len(persisted) <= math.ceil(duration / persist_s) + 1, (len(persisted), duration)
    assert len(persisted) < reports
    dones = [e.data["done"] for e in persisted]
    assert dones == sorted(dones) and dones[0] == 1
    assert all(e.run_id == result.run.id for e in persisted)


# -- schedule -----------------------------------------------------------------------------


async def test_schedule_overrides_persist_and_drive_next_run(make: Factory, data_dir: Path) -> None:
    clock = ManualClock(T0)
    cfg = settings(data_dir, schedule=True)
    # A runner (whose jobs never start here): with none alive, no next run is promised.
    orch = await started(make([Service("orders")], cfg, clock=clock, schedule=False))
    await until(lambda: orch.is_runner)

    def next_run(snap: Snapshot) -> Any:
        return service_view(snap, "orders").next_run

    # configuration: every 30 min from registration (offset 0 for orders)
    clock.advance(50)
    assert next_run(await orch.snapshot()) == to_datetime(T0 + 1800)

    await orch.set_schedule("orders", interval_s=100, offset_s=5)
    view = service_view(await orch.snapshot(), "orders")
    assert (view.interval_s, view.offset_s, view.schedule_enabled) == (100, 5, True)
    assert view.next_run == to_datetime(T0 + 105)
    await orch.stop()

    again = await started(make([Service("orders")], cfg, clock=clock, schedule=False))
    await until(lambda: again.is_runner)
    clock.advance(100)  # T0 + 150
    assert next_run(await again.snapshot()) == to_datetime(T0 + 205)
    await again.set_schedule("orders", interval_s=100, offset_s=5, enabled=False)
    view = service_view(await again.snapshot(), "orders")
    assert view.schedule_enabled is False and view.next_run is None
    await again.set_schedule("orders")  # back to the configuration
    assert next_run(await again.snapshot()) == to_datetime(T0 + 1800)
    await again.pause_schedule()
    assert next_run(await again.snapshot()) is None
    changes = [e for e in await again.events_since(0) if e.kind == EventKind.SCHEDULE_CHANGED]
    assert [e.data["interval_s"] for e in changes] == [100, 100, None]
    with pytest.raises(UnknownService):
        await again.set_schedule("nope", interval_s=10)


async def test_scheduler_requests_a_sync_when_due(make: Factory, data_dir: Path) -> None:
    orders = Service("orders")
    orch = await started(make([orders], settings(data_dir, schedule=True)))
    sub = orch.events()
    await orch.set_schedule("orders", interval_s=0.3, offset_s=0.0)
    queued = await next_event(sub, EventKind.REQUEST_QUEUED)
    assert queued.data["source"] == "schedule"
    await wait_for(orders.started)


async def test_a_deferred_schedule_requests_a_tick_that_fell_due_before_it_started(
    make: Factory, data_dir: Path
) -> None:
    """A console starts the schedule only after its first frame (`start(defer_schedule=True)`,
    then `start_schedule()`): a tick that fell due in between is requested then, not lost."""
    clock = ManualClock(T0)
    orch = make([Service("orders", gated=True)], settings(data_dir, schedule=True), clock=clock)
    await orch.start(defer_schedule=True)
    await until(lambda: orch.is_runner)
    sub = orch.events()
    clock.advance(30 * 60 + 1)  # orders: offset 0, every 30 min from when the store saw it
    assert (await orch.snapshot()).queue == []  # no schedule yet, so nothing requested
    await orch.start_schedule()
    queued = await next_event(sub, EventKind.REQUEST_QUEUED)
    assert (queued.service, queued.data["source"]) == ("orders", "schedule")
    await orch.start_schedule()  # once started, again is a no-op: no second request
    snap = await orch.snapshot()
    assert len(snap.queue) + (snap.active is not None) == 1


# -- stopping ---------------------------------------------------------------------------


async def test_stop_interrupts_the_active_run_and_requeues_it(
    make: Factory, data_dir: Path
) -> None:
    orders = Service("orders", gated=True)
    orch = await started(make([orders]))
    request = await orch.request("orders")
    await wait_for(orders.started)
    await asyncio.wait_for(orch.stop(), WAIT)
    assert orders.cancelled_errors == 1

    store = SQLiteStore(data_dir / "syncdeck.db")
    await store.open()
    try:
        after = await store.get_request(request.id)
        [run] = await store.runs(request_id=request.id)
        lease = await store.lease()
        now = await store.now()
    finally:
        await store.close()
    assert after.state == RequestState.QUEUED
    assert after.attempt == 1
    assert run.outcome == RunOutcome.INTERRUPTED
    assert run.error_class == "Interrupted"
    assert lease is not None and lease.expires_at <= now + timedelta(seconds=0.01)

    # the next runner picks it up at once and runs it to the end
    successor = Service("orders")
    nxt = await started(make([successor]))
    result = await nxt.wait(request.id, timeout=WAIT)
    assert result.outcome == RunOutcome.SUCCEEDED
    assert successor.runs == 1
    assert len(await nxt.history("orders")) == 2


async def test_standby_relays_events_and_takes_over_when_the_runner_stops(
    make: Factory,
) -> None:
    first_service = Service("orders", gated=True)
    runner = await started(make([first_service]))
    await until(lambda: runner.is_runner)
    standby_service = Service("orders")
    standby = await started(make([standby_service]))
    sub = standby.events()
    assert not standby.is_runner
    assert (await standby.snapshot()).is_runner is False

    request = await runner.request("orders")
    relayed = await next_event(sub, EventKind.REQUEST_QUEUED)  # from the other instance
    assert relayed.request_id == request.id and relayed.id > 0
    await wait_for(first_service.started)
    snap = await standby.snapshot()
    assert snap.runner is not None and snap.runner.holder == runner.holder_id
    assert snap.active is not None and snap.active.request.id == request.id

    await runner.stop()
    result = await standby.wait(request.id, timeout=WAIT)
    assert result.outcome == RunOutcome.SUCCEEDED
    assert standby.is_runner
    assert standby_service.runs == 1
    runs = sorted(await standby.history("orders"), key=lambda r: r.id)
    assert [r.outcome for r in runs] == [RunOutcome.INTERRUPTED, RunOutcome.SUCCEEDED]
    assert runs[1].epoch > runs[0].epoch
    assert runs[1].holder == standby.holder_id


async def test_retry_waits_out_backoff_unless_an_operator_asks_again(
    make: Factory, data_dir: Path
) -> None:
    clock = ManualClock(T0)
    orders = Service("orders", fail_times=1)
    cfg = settings(data_dir, retry={"tries": 3, "backoff_s": [30.0]})
    orch = await started(make([orders], cfg, clock=clock))
    sub = orch.events()
    request = await orch.request("orders")
    retry = await next_event(sub, EventKind.REQUEST_RETRY)
    assert retry.request_id == request.id
    snap = await orch.snapshot()
    assert service_view(snap, "orders").state == "retry_wait"
    [entry] = snap.queue
    assert entry.request.id == request.id and entry.request.attempt == 2
    assert entry.request.not_before == to_datetime(T0 + 30)

    # a scheduled tick merges but keeps the backoff
    ticked = await orch.request("orders", source="schedule")
    assert ticked.id == request.id and ticked.not_before == to_datetime(T0 + 30)
    assert service_view(await orch.snapshot(), "orders").state == "retry_wait"
    assert orders.runs == 1
    # an operator asking now does not wait it out
    asked = await orch.request("orders")
    assert asked.id == request.id and asked.not_before is None
    result = await orch.wait(request.id, timeout=WAIT)
    assert result.outcome == RunOutcome.SUCCEEDED
    assert result.request.attempt == 2
    assert orders.runs == 2
