"""The queue as a state machine: random operator actions against the real Orchestrator on a
real SQLite file, with the store's invariants checked after every step.

The orchestrator is async; the hypothesis state machine is not. Each example owns a private
event loop and every rule runs its coroutines to completion on it. Between rules the loop is
idle, so the orchestrator only moves while a rule runs; each rule ends by *settling*: waiting
(on orchestrator events and on the test services, never on a fixed sleep) until the runner has
started the best queued request or nothing is dispatchable.

Services are test-controlled: every run blocks until a rule completes it (success, or a
TransientError), and honours cancellation. The store runs on a fake clock that only the
`advance_clock` rule moves, so aging and retry timing are deterministic.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import shutil
import sqlite3
import tempfile
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from support.clock import ManualClock

from core.config import CircuitSettings, OrchestratorSettings, RetrySettings, Settings
from core.entities import BUILTIN_PRIORITIES
from core.errors import InvalidTransition, SyncCancelled, TransientError
from core.events import Subscription
from core.models import (
    CircuitState,
    EventKind,
    RequestSource,
    RequestState,
    RunCounts,
    RunOutcome,
    SyncMode,
    SyncRequest,
)
from core.orchestrator import Orchestrator
from core.store import DB_FILENAME, SQLiteStore, StoreView
from core.sync.service import RunContext

T = TypeVar("T")

SERVICES = ("orders", "customers", "prices")
T0 = 1_700_000_000.0
"""Fake store clock start. Every advance is a whole number of seconds, so every stored
timestamp is an exact float and effective priorities compare exactly."""
TRIES = 2
AGING_STEP_S = 10.0
CIRCUIT_THRESHOLD = 3
CIRCUIT_COOLDOWN_S = 30.0
SETTLE_TIMEOUT_S = 15.0
"""Real seconds a settle may take before the test calls the orchestrator stuck."""
STRENGTH = {SyncMode.AUTO: 0, SyncMode.INCREMENTAL: 1, SyncMode.FULL: 2}
"""Merge rule, restated independently of core: the stronger mode wins."""


# -- controllable services ------------------------------------------------------------


@dataclass
class Invocation:
    """One call of a service's `run`: blocked on `verdict` until the test decides."""

    service: str
    ctx: RunContext
    verdict: asyncio.Future[RunCounts]
    ended: str | None = None
    """How `run` left: "completed" (verdict), "cancelled" (saw the cancel flag) or
    "killed" (the task was cancelled)."""


@dataclass
class Gate:
    current: Invocation | None = None
    run_ids: list[int] = field(default_factory=list)
    """Run ids handed to services, in call order."""
    overlaps: list[tuple[int, int]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class ControlledService:
    """Each run blocks until the test completes it, checking for a cancel every few ms."""

    def __init__(self, name: str, gate: Gate) -> None:
        self.name = name
        self.gate = gate

    async def resolve_mode(self, requested: SyncMode) -> tuple[SyncMode, str]:
        if requested == SyncMode.AUTO:
            return SyncMode.INCREMENTAL, "test: auto runs incremental"
        return requested, "requested"

    async def run(self, ctx: RunContext) -> RunCounts:
        gate = self.gate
        inv = Invocation(self.name, ctx, asyncio.get_running_loop().create_future())
        if gate.current is not None:
            gate.overlaps.append((gate.current.ctx.run_id, ctx.run_id))
        gate.current = inv
        gate.run_ids.append(ctx.run_id)
        gate.changed.set()
        try:
            while not inv.verdict.done():
                try:
                    ctx.check_cancelled()
                except SyncCancelled:
                    inv.ended = "cancelled"
                    raise
                await asyncio.wait({inv.verdict}, timeout=0.005)
            inv.ended = "completed"
            return inv.verdict.result()
        except asyncio.CancelledError:
            inv.ended = "killed"
            raise
        finally:
            if gate.current is inv:
                gate.current = None
            gate.changed.set()


# -- the queue rules, restated independently of core.queue_order ------------------------------


def rank_key(request: SyncRequest, now: datetime, aging_step_s: float) -> tuple[Any, ...]:
    """Higher priority + waited/aging_step first (waiting counts from the end of a retry
    backoff, if any), then first requested, then lowest id."""
    since = request.not_before or request.requested_at
    waited = max(0.0, (now - since).total_seconds())
    return (-(request.priority + waited / aging_step_s), request.requested_at, request.id)


def eligible(view: StoreView) -> list[SyncRequest]:
    """Queued requests the runner may start now: not backing off, circuit not cooling."""
    services = {s.name: s for s in view.services}
    out = []
    for request in view.queued:
        if request.not_before is not None and request.not_before > view.now:
            continue
        state = services[request.service]
        if (
            state.circuit == CircuitState.OPEN
            and state.circuit_opened_at is not None
            and view.now - state.circuit_opened_at < timedelta(seconds=CIRCUIT_COOLDOWN_S)
        ):
            continue
        out.append(request)
    return out


# -- the harness: one orchestrator at a time on one store file -------------------------


class Harness:
    def __init__(self, root: Path, aging_step_s: float = AGING_STEP_S) -> None:
        self.data_dir = root / "data"
        self.db_path = self.data_dir / DB_FILENAME
        self.clock = ManualClock(T0)
        self.settings = Settings(
            data_dir=self.data_dir,
            orchestrator=OrchestratorSettings(
                lease_ttl_s=5.0,
                heartbeat_s=0.2,
                cancel_grace_s=0.05,
                aging_step_s=aging_step_s,
                retry=RetrySettings(tries=TRIES, backoff_s=[0]),
                circuit=CircuitSettings(
                    failure_threshold=CIRCUIT_THRESHOLD, cooldown_s=CIRCUIT_COOLDOWN_S
                ),
            ),
        )
        self.gate = Gate()
        self._orch: Orchestrator | None = None
        self._store: SQLiteStore | None = None
        self._sub: Subscription | None = None

    @property
    def orch(self) -> Orchestrator:
        assert self._orch is not None
        return self._orch

    async def start(self) -> None:
        services = {name: ControlledService(name, self.gate) for name in SERVICES}
        self._store = SQLiteStore(self.db_path, clock=self.clock)
        self._orch = Orchestrator(self._store, services, self.settings, schedule=False)
        self._sub = self._orch.events()
        await self._orch.start()

    async def stop(self) -> None:
        if self._orch is None:
            return
        assert self._sub is not None
        self._sub.close()
        try:
            await asyncio.wait_for(self._orch.stop(), SETTLE_TIMEOUT_S)
        except TimeoutError:
            raise AssertionError(f"stop() did not return within {SETTLE_TIMEOUT_S}s") from None
        self._orch = None
        assert self.gate.current is None, "stop() returned while a sync was still running"

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def complete(self, success: bool) -> Invocation:
        inv = self.gate.current
        assert inv is not None
        if success:
            inv.verdict.set_result(RunCounts(fetched=1, unchanged=1))
        else:
            inv.verdict.set_exception(TransientError("test: ERP timeout"))
        return inv

    def settled(self, view: StoreView) -> bool:
        if not self.orch.is_runner:
            # Wait for the lease before the next step: a restart must not stop an
            # orchestrator whose first acquire_lease is still executing on the store thread.
            # stop() would cancel it, the store would still commit it, and the stopped
            # orchestrator, never knowing it held the lease, would not release it (a known
            # core race): the next one could not run until the lease expired on the fake clock.
            return False
        current = self.gate.current
        if view.running is not None:
            # Settled once the running request's run sits blocked in our service.
            return (
                current is not None
                and view.running_run is not None
                and current.ctx.run_id == view.running_run.id
                and current.ctx.request_id == view.running.id
                and not current.verdict.done()
                and not current.ctx.cancelled
                and not view.running.cancel_requested
            )
        if current is not None:
            return False  # a service still runs although the store shows no running request
        return view.controls.dispatch_paused or not eligible(view)

    async def settle(self) -> StoreView:
        """Wait until the runner has started the best dispatchable request (and it is blocked
        in our service) or nothing is dispatchable. Wakes on orchestrator events and service
        calls; the timeout is only a backstop for the runner's own timer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT_S
        assert self._sub is not None and self._store is not None
        while True:
            self.gate.changed.clear()
            self._sub.pending()
            view = await self._store.view()  # the store's own view: what the runner reads
            if self.settled(view):
                return view
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"orchestrator did not settle: running={view.running}, "
                    f"queued={view.queued}, controls={view.controls}, "
                    f"service run={self.gate.current}, runner={self.orch.is_runner}"
                )
            waiters = {
                asyncio.ensure_future(self._sub.__anext__()),
                asyncio.ensure_future(self.gate.changed.wait()),
            }
            _, pending = await asyncio.wait(
                waiters, timeout=min(0.25, remaining), return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


# -- raw reads of the store file ------------------------------------------------------------


def read_store(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """One consistent read of the tables the invariants need, straight from the file."""
    con = sqlite3.connect(path)
    try:
        con.execute("BEGIN")
        out = {
            "requests": con.execute(
                "SELECT id, service, state, outcome, started_at, finished_at, attempt, "
                "cancel_requested FROM requests ORDER BY id"
            ).fetchall(),
            "runs": con.execute(
                "SELECT id, request_id, started_at, finished_at, outcome, requested_mode, mode, "
                "attempt FROM runs ORDER BY id"
            ).fetchall(),
            "ends": con.execute(
                "SELECT request_id, COUNT(*) FROM events WHERE kind IN (?, ?) GROUP BY request_id",
                (EventKind.REQUEST_FINISHED.value, EventKind.REQUEST_CANCELLED.value),
            ).fetchall(),
            "queued_events": con.execute(
                "SELECT request_id, COUNT(*) FROM events WHERE kind = ? GROUP BY request_id",
                (EventKind.REQUEST_QUEUED.value,),
            ).fetchall(),
            "services": con.execute("SELECT name, circuit FROM services").fetchall(),
        }
        con.execute("COMMIT")
        return out
    finally:
        con.close()


def run_row(path: Path, run_id: int) -> tuple[Any, ...]:
    con = sqlite3.connect(path)
    try:
        row = con.execute(
            "SELECT request_id, outcome, error_class, finished_at FROM runs WHERE id = ?",
            (run_id,),
        ).fetchone()
    finally:
        con.close()
    assert row is not None, f"no run #{run_id} in the store"
    return tuple(row)


def service_row(path: Path, name: str) -> tuple[int, str]:
    con = sqlite3.connect(path)
    try:
        row = con.execute(
            "SELECT consecutive_failures, circuit FROM services WHERE name = ?", (name,)
        ).fetchone()
    finally:
        con.close()
    return int(row[0]), str(row[1])


# -- the state machine ----------------------------------------------------------------------


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="syncdeck-stateful-"))
        self.loop = asyncio.new_event_loop()
        self.h = Harness(self.tmp)
        self.given: set[int] = set()
        self.ended: dict[int, tuple[Any, ...]] = {}
        self.paused = False
        self.max_run_before = 0
        self.view = self.run(self._boot())

    async def _boot(self) -> StoreView:
        await self.h.start()
        return await self.h.settle()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            self.run(self.h.stop())
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    # helpers

    def begin(self) -> None:
        runs = read_store(self.h.db_path)["runs"]
        self.max_run_before = runs[-1][0] if runs else 0

    def settle(self) -> None:
        self.view = self.run(self.h.settle())

    def get(self, request_id: int) -> SyncRequest:
        return self.run(self.h.orch.get_request(request_id))

    def queued_for(self, service: str) -> SyncRequest | None:
        return next((r for r in self.view.queued if r.service == service), None)

    # rules

    @rule(
        service=st.sampled_from(SERVICES),
        mode=st.sampled_from(list(SyncMode)),
        priority=st.none() | st.integers(0, 8),
    )
    def request(self, service: str, mode: SyncMode, priority: int | None) -> None:
        self.begin()
        queued = self.queued_for(service)
        got = self.run(self.h.orch.request(service, mode, priority))
        wanted = BUILTIN_PRIORITIES[service] if priority is None else priority
        event(f"request: {'merged' if queued else 'new'}")
        if queued is None:
            assert got.id > max(self.given, default=0), "a new request reused an old id"
            assert (got.state, got.priority, got.mode, got.merged) == (
                RequestState.QUEUED,
                wanted,
                mode,
                0,
            )
        else:
            assert got.id == queued.id, "a second request queued for one service did not merge"
            assert got.merged == queued.merged + 1
            if priority is not None:  # the operator names one: it stands
                assert (got.priority, got.priority_set) == (priority, True)
            elif queued.priority_set:  # an operator's earlier one stands
                assert (got.priority, got.priority_set) == (queued.priority, True)
            else:
                assert (got.priority, got.priority_set) == (max(queued.priority, wanted), False)
            assert got.mode == max(queued.mode, mode, key=STRENGTH.__getitem__)
            assert got.not_before is None, "an operator request did not clear the backoff"
        self.given.add(got.id)
        self.settle()

    @rule(service=st.sampled_from(SERVICES), mode=st.sampled_from(list(SyncMode)))
    def scheduled_tick(self, service: str, mode: SyncMode) -> None:
        """The schedule asks (principle 4): a merge may raise the mode, never undo an
        operator's priority (#21 item 6)."""
        self.begin()
        queued = self.queued_for(service)
        got = self.run(self.h.orch.request(service, mode, None, RequestSource.SCHEDULE))
        event(f"scheduled: {'merged' if queued else 'new'}")
        wanted = BUILTIN_PRIORITIES[service]
        if queued is None:
            assert (got.priority, got.priority_set, got.source) == (
                wanted,
                False,
                RequestSource.SCHEDULE,
            )
        else:
            assert got.id == queued.id and got.source == queued.source  # sources kept
            assert got.mode == max(queued.mode, mode, key=STRENGTH.__getitem__)
            if queued.priority_set:
                assert (got.priority, got.priority_set) == (queued.priority, True)
            else:
                assert got.priority == max(queued.priority, wanted)
        self.given.add(got.id)
        self.settle()

    @precondition(lambda self: self.given)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        self.begin()
        rid = data.draw(st.sampled_from(sorted(self.given)), label="request")
        before = self.get(rid)
        event(f"cancel: {before.state.value}")
        if before.state.ended:
            with pytest.raises(InvalidTransition):
                self.run(self.h.orch.cancel(rid))
            self.settle()
            return
        inv = self.h.gate.current if before.state == RequestState.RUNNING else None
        got = self.run(self.h.orch.cancel(rid))
        if before.state == RequestState.QUEUED:
            assert (got.state, got.outcome) == (RequestState.CANCELLED, RunOutcome.CANCELLED)
        else:
            assert got.state == RequestState.RUNNING and got.cancel_requested
            assert inv is not None and inv.ctx.request_id == rid
        self.settle()
        after = self.get(rid)
        assert (after.state, after.outcome) == (RequestState.CANCELLED, RunOutcome.CANCELLED)
        if inv is not None:
            assert inv.ended in ("cancelled", "killed"), f"cancelled run ended {inv.ended}"
            assert run_row(self.h.db_path, inv.ctx.run_id)[1] == RunOutcome.CANCELLED.value

    @precondition(lambda self: self.given)
    @rule(data=st.data(), priority=st.integers(0, 8))
    def set_priority(self, data: st.DataObject, priority: int) -> None:
        self.begin()
        queued_ids = sorted(r.id for r in self.view.queued)
        ids = st.sampled_from(sorted(self.given))
        if queued_ids:
            ids = st.sampled_from(queued_ids) | ids
        rid = data.draw(ids, label="request")
        before = self.get(rid)
        event(f"set_priority: {before.state.value}")
        if before.state != RequestState.QUEUED:
            with pytest.raises(InvalidTransition):
                self.run(self.h.orch.set_priority(rid, priority))
            self.settle()
            assert self.get(rid).priority == before.priority
            return
        self.run(self.h.orch.set_priority(rid, priority))
        self.settle()
        assert (self.get(rid).priority, self.get(rid).priority_set) == (priority, True)

    @rule(paused=st.booleans())
    def pause_or_resume(self, paused: bool) -> None:
        self.begin()
        self.run(self.h.orch.pause() if paused else self.h.orch.resume())
        self.paused = paused
        self.settle()

    # Two rules (success, failure) rather than one with a boolean: completing is only possible
    # while a run is blocked, and this gives it a fair share of the steps.
    @precondition(lambda self: self.h.gate.current is not None)
    @rule()
    def complete_success(self) -> None:
        self.complete(success=True)

    @precondition(lambda self: self.h.gate.current is not None)
    @rule()
    def complete_failure(self) -> None:
        self.complete(success=False)

    def complete(self, success: bool) -> None:
        self.begin()
        inv = self.h.gate.current
        assert inv is not None
        rid = inv.ctx.request_id
        before = self.get(rid)
        assert before.state == RequestState.RUNNING
        failures, circuit = service_row(self.h.db_path, before.service)
        other = self.queued_for(before.service)
        self.run(self.h.complete(success))
        self.settle()
        assert inv.ended == "completed"
        after = self.get(rid)
        _, run_outcome, error_class, _ = run_row(self.h.db_path, inv.ctx.run_id)
        failures_after, circuit_after = service_row(self.h.db_path, before.service)
        if success:
            assert (after.state, after.outcome) == (RequestState.FINISHED, RunOutcome.SUCCEEDED)
            assert run_outcome == RunOutcome.SUCCEEDED.value
            assert (failures_after, circuit_after) == (0, CircuitState.CLOSED.value)
            return
        assert (run_outcome, error_class) == (RunOutcome.FAILED.value, "TransientError")
        assert failures_after == failures + 1
        opens = circuit == CircuitState.HALF_OPEN.value or failures + 1 >= CIRCUIT_THRESHOLD
        expected_circuit = CircuitState.OPEN if opens else CircuitState.CLOSED
        assert circuit_after == expected_circuit.value
        event(f"complete: failure, circuit {circuit} -> {circuit_after}")
        event(f"complete: failure on attempt {before.attempt}, queued: {other is not None}")
        if before.attempt >= TRIES:
            assert (after.state, after.outcome) == (RequestState.FINISHED, RunOutcome.FAILED)
        elif other is None:
            assert not after.state.ended, "a retryable failure ended its request"
            assert after.attempt == before.attempt + 1
        else:
            # A request already queued for the service carries the retry on.
            assert (after.state, after.outcome) == (RequestState.FINISHED, RunOutcome.FAILED)
            carrier = self.get(other.id)
            assert carrier.merged == other.merged + 1
            assert carrier.attempt == max(other.attempt, before.attempt + 1)
            if before.priority_set:  # the retried request's operator priority goes on
                assert (carrier.priority, carrier.priority_set) == (before.priority, True)
            elif other.priority_set:
                assert (carrier.priority, carrier.priority_set) == (other.priority, True)
            else:
                assert carrier.priority == max(other.priority, before.priority)

    @rule(seconds=st.integers(1, 60))
    def advance_clock(self, seconds: int) -> None:
        self.begin()
        self.h.clock.advance(seconds)
        self.settle()

    @rule()
    def restart(self) -> None:
        self.begin()
        inv = self.h.gate.current
        running = self.view.running
        other = None if running is None else self.queued_for(running.service)
        event(f"restart: running {running is not None}, queued: {other is not None}")
        self.run(self.h.restart())
        if inv is not None:
            assert inv.ended in ("cancelled", "killed"), f"interrupted run ended {inv.ended}"
        self.settle()
        if running is None:
            assert inv is None
            return
        assert inv is not None
        _, run_outcome, error_class, _ = run_row(self.h.db_path, inv.ctx.run_id)
        assert (run_outcome, error_class) == (RunOutcome.INTERRUPTED.value, "Interrupted")
        after = self.get(running.id)
        if other is None:
            assert not after.state.ended, "an interrupted request was not queued again"
            assert after.attempt == running.attempt, "an interruption counted as an attempt"
        else:
            assert (after.state, after.outcome) == (RequestState.FINISHED, RunOutcome.INTERRUPTED)
            assert self.get(other.id).merged == other.merged + 1

    # invariants

    @invariant()
    def store_invariants(self) -> None:
        data = read_store(self.h.db_path)
        requests = {row[0]: row for row in data["requests"]}
        runs = data["runs"]

        # Every id handed out is in the store, and nothing else is (no schedule runs here).
        assert set(requests) == self.given

        # At most one request running and one run open, and they belong together.
        running = [rid for rid, row in requests.items() if row[2] == RequestState.RUNNING.value]
        open_runs = [run for run in runs if run[4] is None]
        assert len(running) <= 1, f"two requests running: {running}"
        assert len(open_runs) <= 1, f"two runs open: {open_runs}"
        assert [run[1] for run in open_runs] == running

        # Run intervals never overlap: each run ends before (or as) the next one starts.
        for prev, nxt in itertools.pairwise(runs):
            assert prev[3] is not None, f"run #{prev[0]} still open when #{nxt[0]} started"
            assert prev[2] <= prev[3] <= nxt[2], f"runs #{prev[0]} and #{nxt[0]} overlap"
        for run in runs:
            assert run[1] in requests
            expected_mode = SyncMode.INCREMENTAL.value if run[5] == "auto" else run[5]
            assert run[6] == expected_mode, f"run #{run[0]} ran {run[6]} for {run[5]}"
            assert 1 <= run[7] <= TRIES
        failed_runs: dict[int, int] = {}
        for run in runs:
            if run[4] == RunOutcome.FAILED.value:
                failed_runs[run[1]] = failed_runs.get(run[1], 0) + 1
        assert all(n <= TRIES for n in failed_runs.values()), f"over-retried: {failed_runs}"

        # Every run in the store was handed to a service exactly once, in order.
        assert self.h.gate.run_ids == [run[0] for run in runs]
        assert self.h.gate.overlaps == [], "two service runs overlapped in time"

        # At most one queued request per service.
        queued_services = [row[1] for row in requests.values() if row[2] == "queued"]
        assert len(queued_services) == len(set(queued_services))

        # Each request ends exactly once, and an ended request stays ended.
        ends = dict(data["ends"])
        assert all(n == 1 for n in dict(data["queued_events"]).values())
        assert set(dict(data["queued_events"])) == self.given
        for rid, row in requests.items():
            _, _, state, outcome, started, finished, attempt, _ = row
            is_ended = RequestState(state).ended
            assert ends.get(rid, 0) == (1 if is_ended else 0), (
                f"request #{rid} is {state} with {ends.get(rid, 0)} end events"
            )
            assert 1 <= attempt <= TRIES
            if state == RequestState.QUEUED.value:
                assert (outcome, started, finished) == (None, None, None)
            elif state == RequestState.RUNNING.value:
                assert started is not None and (outcome, finished) == (None, None)
            else:
                assert outcome is not None and finished is not None
                assert (state == "cancelled") == (outcome == RunOutcome.CANCELLED.value)
            if rid in self.ended:
                assert (state, outcome, finished) == self.ended[rid], (
                    f"ended request #{rid} changed: {self.ended[rid]} -> {row}"
                )
            elif is_ended:
                self.ended[rid] = (state, outcome, finished)

        # A running request's circuit is closed or half-open (a probe), never open.
        if running:
            circuits = dict(data["services"])
            assert circuits[requests[running[0]][1]] != CircuitState.OPEN.value

    @invariant()
    def dispatch_invariants(self) -> None:
        view = self.view
        assert view.controls.dispatch_paused == self.paused, "pause state not kept"
        runs = read_store(self.h.db_path)["runs"]
        max_run = runs[-1][0] if runs else 0
        if self.paused:
            assert max_run == self.max_run_before, "a run started while dispatch was paused"
        # A run started in this step was the best dispatchable request when it started (the
        # clock has not moved since, and nothing else has changed the queue).
        started = view.running_run
        if view.running is not None and started is not None and started.id > self.max_run_before:
            key = rank_key(view.running, view.now, AGING_STEP_S)
            event(f"dispatch check: {len(eligible(view))} eligible competitors")
            for other in eligible(view):
                assert key < rank_key(other, view.now, AGING_STEP_S), (
                    f"started #{view.running.id} although #{other.id} ranked higher"
                )
        # The snapshot's queue is in effective-priority order.
        snap = self.run(self.h.orch.snapshot())
        expected = sorted(snap.queue, key=lambda e: rank_key(e.request, snap.at, AGING_STEP_S))
        assert [e.request.id for e in snap.queue] == [e.request.id for e in expected]
        assert [e.position for e in snap.queue] == list(range(1, len(snap.queue) + 1))
        active = None if snap.active is None else snap.active.request.id
        assert active == (None if view.running is None else view.running.id)


TestQueueStateMachine = QueueMachine.TestCase
TestQueueStateMachine.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# -- starvation -------------------------------------------------------------------------------


def starvation_bound_s(
    max_priority: int, priority: int, aging_step_s: float, run_s: float = 0.0
) -> float:
    """How long a request of `priority` can wait, at most, behind a constant stream of
    `max_priority` requests whose runs last `run_s`: the competing request has itself aged
    up to one run when the choice is made, and one run is in progress when it is."""
    return max(0, max_priority - priority) * aging_step_s + 2 * run_s


@pytest.mark.parametrize(
    ("aging_step_s", "run_s"),
    [(10, 4), (10, 25), (3, 2), (5, 5), (1, 3), (7, 7)],
)
async def test_low_priority_request_is_not_starved(
    tmp_path: Path, aging_step_s: int, run_s: int
) -> None:
    """A prices request (priority 1) starts, under a constant stream of orders requests
    (priority 4, a new one requested as soon as each orders run starts, every run taking
    `run_s` fake seconds), within

        bound = starvation_bound_s(4, 1, aging_step_s, run_s)
              = 3 * aging_step_s + 2 * run_s            (fake seconds after it was requested)

    The competitor is never fresh when the runner chooses: it was requested when the
    previous orders run started, so it has already aged one run (`run_s`); prices must wait
    3 * aging_step_s + run_s to outrank it. The run in progress at that moment then takes at
    most one more `run_s`. (So 3 * aging_step_s + run_s alone is not a bound here: with
    aging_step_s=10, run_s=4 prices waits 36 s.) Conversely, prices must not start before
    it outranks the queued orders request: it waits at least 3 * aging_step_s + run_s.
    """
    h = Harness(tmp_path, aging_step_s=float(aging_step_s))
    await h.start()
    try:
        await h.orch.pause()
        prices = await h.orch.request("prices")
        await h.orch.request("orders")
        assert (prices.priority, BUILTIN_PRIORITIES["orders"]) == (1, 4)
        await h.orch.resume()
        bound = starvation_bound_s(4, 1, aging_step_s, run_s)
        orders_runs = 0
        while True:
            view = await h.settle()
            assert view.running is not None
            if view.running.service == "prices":
                break
            assert view.running.service == "orders"
            assert orders_runs <= math.ceil(bound / run_s), "prices starved"
            fresh = await h.orch.request("orders")
            assert fresh.merged == 0 and fresh.id != view.running.id
            h.clock.advance(run_s)
            await h.complete(success=True)
            orders_runs += 1
        started = await h.orch.get_request(prices.id)
        assert started.started_at is not None
        waited = (started.started_at - started.requested_at).total_seconds()
        assert orders_runs >= 1
        assert 3 * aging_step_s + run_s <= waited <= bound, (
            f"prices waited {waited}s behind {orders_runs} orders runs; bound {bound}s"
        )
    finally:
        await h.stop()
