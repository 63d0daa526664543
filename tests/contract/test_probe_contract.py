"""An operator's "probe now" (issue 21 item 10) on every backend: `Store.probe_now`.

An open circuit probed now lets the service's request start before the cooldown ends,
by the same rule the runner dispatches with (`core.queue_order`); the breaker then
judges that run as the probe. The event says who asked. A closed or half-open circuit
refuses, changing nothing; a cancelled probe leaves the circuit open again.
"""

from __future__ import annotations

import pytest
from support.clock import ManualClock

from core import queue_order
from core.breaker import BreakerRules, after_run
from core.breaker import cooldown_over as cooled
from core.errors import InvalidTransition, NotFound
from core.models import (
    CircuitState,
    EventKind,
    RequestSource,
    RunCounts,
    RunOutcome,
    ServiceState,
    SyncMode,
    SyncRequest,
)
from core.store import RunFinish, RunStart, Store

RULES = BreakerRules(failure_threshold=1, cooldown_s=300.0)
EPOCH = 1


async def finish(store: Store, run_id: int, outcome: RunOutcome) -> None:
    """End a run, the real breaker deciding what becomes of the circuit."""
    await store.finish_run(
        RunFinish(
            run_id,
            EPOCH,
            outcome,
            RunCounts(),
            None if outcome == RunOutcome.SUCCEEDED else "TransientError",
            None if outcome == RunOutcome.SUCCEEDED else "the ERP answered 503",
            retry_in_s=None,
            breaker=lambda state, now: after_run(state, outcome, now, RULES),
        )
    )


async def start(store: Store, request: SyncRequest) -> int:
    """Start `request` as the runner would: a probe when its circuit is open."""
    state = await service(store, request.service)
    probe = state.circuit == CircuitState.OPEN
    run, _, _ = await store.start_run(
        RunStart(request.id, EPOCH, "A", SyncMode.FULL, "test", half_open_probe=probe)
    )
    return run.id


async def service(store: Store, name: str) -> ServiceState:
    return next(s for s in await store.services() if s.name == name)


async def open_circuit(store: Store) -> ServiceState:
    """orders fails once (the threshold): its circuit opens, its cooldown starts now."""
    await store.acquire_lease("A", "host", 1, 3600.0)
    request = (await store.enqueue("orders", SyncMode.FULL, None, RequestSource.MANUAL)).request
    await finish(store, await start(store, request), RunOutcome.FAILED)
    state = await service(store, "orders")
    assert state.circuit == CircuitState.OPEN and state.circuit_opened_at is not None
    return state


async def next_up(store: Store) -> SyncRequest | None:
    """The request the runner would start now, by its own rule (`Runner._dispatch`)."""
    view = await store.view(history=False)
    circuits = {s.name: s.circuit for s in view.services}
    cooldowns = {s.name: cooled(s, view.now, RULES) for s in view.services}
    return queue_order.choose_next(view.queued, view.now, 1e6, circuits, cooldowns)


async def test_an_open_circuit_probed_now_runs_its_request_before_the_cooldown(
    store: Store, clock: ManualClock
) -> None:
    await open_circuit(store)
    queued = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    clock.advance(10)  # 290 s of cooldown left
    assert await next_up(store) is None  # the circuit holds it
    now = await store.now()
    ready, why = queue_order.ready_at(queued, await service(store, "orders"), now, RULES)
    assert why == "circuit open" and ready is not None and ready > now

    request, events = await store.probe_now("orders", "api", "nightly-cron")

    assert request.id == queued.id  # the queued request probes; none is added
    assert [e.kind for e in events] == [
        EventKind.CIRCUIT_PROBE_REQUESTED,
        EventKind.CIRCUIT_CHANGED,
    ]
    asked = events[0]
    assert (asked.service, asked.request_id) == ("orders", queued.id)
    assert asked.data == {
        "by": "api",
        "subject": "nightly-cron",
        "source": "api",
        "queued": False,
        "failures": 1,
    }
    assert events[1].data["circuit"] == "half_open"
    assert (await store.events_since(asked.id - 1, 2)) == events  # logged, in this order
    state = await service(store, "orders")
    assert state.circuit == CircuitState.HALF_OPEN
    assert queue_order.ready_at(request, state, now, RULES) == (None, None)
    assert (await next_up(store)) == request  # 290 s before the cooldown would have ended

    # The breaker judges the run as the probe: a failure opens the circuit again, with a
    # fresh cooldown from the probe's end.
    run_id = await start(store, request)
    clock.advance(5)
    await finish(store, run_id, RunOutcome.FAILED)
    state = await service(store, "orders")
    assert state.circuit == CircuitState.OPEN
    assert state.circuit_opened_at == await store.now()
    again = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    assert await next_up(store) is None

    # Probed again (queued by the console: manual), it closes on success.
    request, events = await store.probe_now("orders", "console", "ops")
    assert request.id == again.id and events[0].data["by"] == "console"
    await finish(store, await start(store, request), RunOutcome.SUCCEEDED)
    state = await service(store, "orders")
    assert (state.circuit, state.consecutive_failures) == (CircuitState.CLOSED, 0)


async def test_a_probe_with_nothing_queued_queues_the_callers_request(
    store: Store, clock: ManualClock
) -> None:
    await open_circuit(store)
    assert (await store.view(history=False)).queued == []

    request, events = await store.probe_now("orders", "cli", "alice")

    assert (request.service, request.mode, request.source) == (
        "orders",
        SyncMode.AUTO,
        RequestSource.CLI,
    )
    assert [e.kind for e in events] == [
        EventKind.REQUEST_QUEUED,
        EventKind.CIRCUIT_PROBE_REQUESTED,
        EventKind.CIRCUIT_CHANGED,
    ]
    assert events[1].data["queued"] is True and events[1].data["subject"] == "alice"
    assert events[1].request_id == request.id
    assert [r.id for r in (await store.view(history=False)).queued] == [request.id]
    assert await next_up(store) == request


async def test_a_retry_waiting_on_its_backoff_probes_at_once(
    store: Store, clock: ManualClock
) -> None:
    await store.acquire_lease("A", "host", 1, 3600.0)
    request = (await store.enqueue("orders", SyncMode.FULL, None, RequestSource.MANUAL)).request
    run, _, _ = await store.start_run(RunStart(request.id, EPOCH, "A", SyncMode.FULL, "test"))
    await store.finish_run(
        RunFinish(
            run.id,
            EPOCH,
            RunOutcome.FAILED,
            RunCounts(),
            "TransientError",
            "503",
            retry_in_s=600.0,
            breaker=lambda state, now: after_run(state, RunOutcome.FAILED, now, RULES),
        )
    )
    retry = await store.get_request(request.id)
    assert retry.not_before is not None and retry.not_before > await store.now()

    probing, _ = await store.probe_now("orders", "api", None)

    assert probing.id == retry.id and probing.not_before is None
    assert (await store.get_request(retry.id)).not_before is None
    assert await next_up(store) == probing


async def test_a_circuit_that_is_not_open_refuses_and_nothing_changes(store: Store) -> None:
    services = await store.services()
    last = await store.last_event_id()
    with pytest.raises(InvalidTransition) as closed:
        await store.probe_now("orders", "console", None)
    assert str(closed.value) == "the orders circuit is closed: nothing to probe"
    with pytest.raises(NotFound):
        await store.probe_now("nope", "console", None)
    assert await store.services() == services
    assert (await store.view(history=False)).queued == []
    assert await store.last_event_id() == last

    await open_circuit(store)
    await store.probe_now("orders", "console", None)
    services, last = await store.services(), await store.last_event_id()
    with pytest.raises(InvalidTransition) as half_open:
        await store.probe_now("orders", "cli", None)
    assert "orders circuit is already half-open" in str(half_open.value)
    assert await store.services() == services
    assert await store.last_event_id() == last


async def test_a_cancelled_probe_leaves_the_circuit_open_as_it_was(
    store: Store, clock: ManualClock
) -> None:
    opened = await open_circuit(store)
    request, _ = await store.probe_now("orders", "console", None)

    _, events = await store.cancel(request.id)

    assert [e.kind for e in events] == [EventKind.REQUEST_CANCELLED, EventKind.CIRCUIT_CHANGED]
    assert events[1].data["circuit"] == "open"
    state = await service(store, "orders")
    assert state.circuit == CircuitState.OPEN
    assert state.circuit_opened_at == opened.circuit_opened_at  # the cooldown runs on
    again = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    assert await next_up(store) is None  # held by the cooldown again
    # A request queued behind a running probe leaves the circuit to the probe's outcome.
    await store.probe_now("orders", "console", None)
    run_id = await start(store, await store.get_request(again.id))
    behind = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    _, events = await store.cancel(behind.id)
    assert [e.kind for e in events] == [EventKind.REQUEST_CANCELLED]
    assert (await service(store, "orders")).circuit == CircuitState.HALF_OPEN
    await finish(store, run_id, RunOutcome.SUCCEEDED)
    assert (await service(store, "orders")).circuit == CircuitState.CLOSED
