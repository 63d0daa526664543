"""The store contract: what every backend guarantees (`core.store.base.Store`), tested once.

Each test runs on every backend in `contract.backends.BACKENDS` through the
`store_factory` and `store` fixtures (a manual clock, the built-in services);
what only one backend promises (SQLite's files, PostgreSQL's sessions) is tested
beside it, in `tests/test_store_sqlite.py` and `tests/contract/test_store_postgres.py`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from support.clock import ManualClock

from contract.backends import T0, Backend, StoreFactory
from core.breaker import BreakerUpdate
from core.entities import BUILTIN_PRIORITIES
from core.errors import InvalidTransition, LeaseLost, NotFound, SchemaTooNew, StoreError
from core.models import (
    CircuitState,
    EventKind,
    RequestSource,
    RequestState,
    RunCounts,
    RunOutcome,
    SyncMode,
)
from core.store import RunFinish, RunStart, Store
from core.store.base import Breaker


def fixed_breaker(failures: int) -> Breaker:
    """A breaker decision that ignores the state: closed, with this many failures."""
    return lambda state, now: BreakerUpdate(CircuitState.CLOSED, failures, None)


# -- schema -------------------------------------------------------------------------


async def test_reopen_keeps_data(store_factory: StoreFactory) -> None:
    s = store_factory()
    await s.open()
    await s.register_services({"orders": 4})
    queued = await s.enqueue("orders", SyncMode.FULL, 7, RequestSource.MANUAL)
    await s.close()

    again = store_factory()
    await again.open()
    assert [r.id for r in (await again.view(history=False)).queued] == [queued.request.id]
    assert (await again.get_request(queued.request.id)).priority == 7


async def test_schema_too_new_raises_a_clear_error(
    backend: Backend, store_factory: StoreFactory
) -> None:
    newer = backend.schema_version + 7
    backend.make_newer(newer)
    s = store_factory()
    with pytest.raises(SchemaTooNew) as info:
        await s.open()
    message = str(info.value)
    assert backend.where in message
    assert str(newer) in message
    assert str(backend.schema_version) in message
    assert "upgrade" in message
    # not half-open: using it is refused, and a second attempt refuses again
    with pytest.raises(StoreError):
        await s.view(history=False)
    with pytest.raises(SchemaTooNew):
        await store_factory().open()
    # nothing was changed
    assert backend.stored_version() == newer
    assert backend.future_rows() == [(1,)]
    assert "requests" not in backend.tables()


# -- enqueue and merging ----------------------------------------------------------


async def test_enqueue_merges_into_the_one_queued_request(store: Store) -> None:
    first = await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)
    assert not first.merged
    assert first.request.state == RequestState.QUEUED
    assert first.request.priority == BUILTIN_PRIORITIES["orders"]
    assert [e.kind for e in first.events] == [EventKind.REQUEST_QUEUED]

    steps = [
        # (mode, priority) asked -> (mode, priority) of the queued request afterwards
        ((SyncMode.INCREMENTAL, None), (SyncMode.INCREMENTAL, 4)),
        ((SyncMode.AUTO, 9), (SyncMode.INCREMENTAL, 9)),
        ((SyncMode.FULL, 2), (SyncMode.FULL, 2)),  # an operator priority stands, up or down
        ((SyncMode.INCREMENTAL, 3), (SyncMode.FULL, 3)),
        ((SyncMode.AUTO, None), (SyncMode.FULL, 3)),
    ]
    for n, ((mode, priority), (want_mode, want_priority)) in enumerate(steps, start=1):
        result = await store.enqueue("orders", mode, priority, RequestSource.CLI)
        assert result.merged
        assert result.request.id == first.request.id
        assert (result.request.mode, result.request.priority) == (want_mode, want_priority)
        assert result.request.merged == n
        assert [e.kind for e in result.events] == [EventKind.REQUEST_MERGED]
        assert result.events[0].request_id == first.request.id

    other = await store.enqueue("prices", SyncMode.AUTO, None, RequestSource.MANUAL)
    assert not other.merged
    assert other.request.id != first.request.id
    queued = (await store.view(history=False)).queued
    assert sorted(r.service for r in queued) == ["orders", "prices"]
    stored = await store.get_request(first.request.id)
    assert (stored.mode, stored.priority, stored.merged) == (SyncMode.FULL, 3, len(steps))


async def test_a_scheduled_merge_never_undoes_an_operators_priority(store: Store) -> None:
    """#21 item 6: an operator lowered a queued request to 0; the schedule's next tick
    merged into it and put it back to 2."""
    queued = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    await store.set_priority(queued.id, 0)
    merged = await store.enqueue("orders", SyncMode.FULL, None, RequestSource.SCHEDULE)
    assert merged.request.id == queued.id
    assert (merged.request.mode, merged.request.priority) == (SyncMode.FULL, 0)  # full wins
    assert merged.request.source == RequestSource.MANUAL  # its sources keep the operator's
    assert merged.events[0].data["priority"] == 0
    again = await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.SCHEDULE)
    assert (again.request.priority, again.request.merged) == (0, 2)
    later = await store.enqueue("orders", SyncMode.AUTO, 6, RequestSource.API)  # an operator
    assert later.request.priority == 6
    stored = await store.get_request(queued.id)
    assert (stored.priority, stored.priority_set, stored.mode) == (6, True, SyncMode.FULL)

    # Without an operator's priority, the schedule's merge raises it as before.
    prices = (await store.enqueue("prices", SyncMode.AUTO, 0, RequestSource.SCHEDULE)).request
    raised = await store.enqueue("prices", SyncMode.AUTO, 5, RequestSource.SCHEDULE)
    assert (raised.request.id, raised.request.priority) == (prices.id, 5)


async def test_enqueue_refuses_unknown_service_and_bad_priority(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.enqueue("nope", SyncMode.AUTO, None, RequestSource.MANUAL)
    with pytest.raises(StoreError, match="between"):
        await store.enqueue("orders", SyncMode.AUTO, 101, RequestSource.MANUAL)
    with pytest.raises(StoreError, match="between"):
        await store.enqueue("orders", SyncMode.AUTO, -1, RequestSource.MANUAL)
    assert (await store.view(history=False)).queued == []


# -- cancel -----------------------------------------------------------------------


async def _lease_and_start(store: Store, request_id: int, holder: str = "A") -> tuple[Any, ...]:
    lease = (await store.acquire_lease(holder, "host", 1, 30.0)).lease
    assert lease is not None
    run, request, _ = await store.start_run(
        RunStart(request_id, lease.epoch, holder, SyncMode.FULL, "requested")
    )
    return lease, run, request


async def test_cancel_queued_running_and_ended(store: Store) -> None:
    orders = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    prices = (await store.enqueue("prices", SyncMode.AUTO, None, RequestSource.MANUAL)).request

    cancelled, events = await store.cancel(prices.id)
    assert cancelled.state == RequestState.CANCELLED
    assert cancelled.outcome == RunOutcome.CANCELLED
    assert cancelled.finished_at is not None
    assert [e.kind for e in events] == [EventKind.REQUEST_CANCELLED]
    assert [r.id for r in (await store.view(history=False)).queued] == [orders.id]

    lease, run, running = await _lease_and_start(store, orders.id)
    assert running.state == RequestState.RUNNING
    asked, events = await store.cancel(orders.id)
    assert asked.state == RequestState.RUNNING
    assert asked.cancel_requested
    assert [e.kind for e in events] == [EventKind.REQUEST_CANCEL_ASKED]
    again, events = await store.cancel(orders.id)
    assert again.cancel_requested and events == []

    # a run that ends after a cancel request is recorded as cancelled, not retried
    ended, _, _, events = await store.finish_run(
        RunFinish(
            run.id,
            lease.epoch,
            RunOutcome.FAILED,
            RunCounts(),
            "Boom",
            "boom",
            retry_in_s=None,
            breaker=fixed_breaker(1),
        )
    )
    assert ended.state == RequestState.CANCELLED
    assert ended.outcome == RunOutcome.CANCELLED

    for request_id in (orders.id, prices.id):
        with pytest.raises(InvalidTransition):
            await store.cancel(request_id)
    with pytest.raises(NotFound):
        await store.cancel(9999)


async def test_set_priority_only_on_queued(store: Store) -> None:
    orders = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    events = await store.set_priority(orders.id, 55)
    assert [(e.kind, e.data) for e in events] == [
        (EventKind.PRIORITY_CHANGED, {"old": 4, "new": 55})
    ]
    assert (await store.get_request(orders.id)).priority == 55
    with pytest.raises(StoreError):
        await store.set_priority(orders.id, 101)
    await store.cancel(orders.id)
    with pytest.raises(InvalidTransition):
        await store.set_priority(orders.id, 10)


# -- lease ------------------------------------------------------------------------


async def test_lease_acquire_renew_expiry_and_takeover(store: Store, clock: ManualClock) -> None:
    first = await store.acquire_lease("A", "host-a", 11, 10.0)
    assert first.lease is not None and first.taken_over
    assert (first.lease.holder, first.lease.epoch) == ("A", 1)
    assert first.lease.expires_at.timestamp() == pytest.approx(T0 + 10)
    assert [e.kind for e in first.events] == [EventKind.LEASE_TAKEN]

    assert (await store.acquire_lease("B", "host-b", 22, 10.0)).lease is None

    clock.advance(6)
    renewed = await store.acquire_lease("A", "host-a", 11, 10.0, epoch=1)
    assert renewed.lease is not None and not renewed.taken_over
    assert renewed.lease.epoch == 1
    assert renewed.lease.expires_at.timestamp() == pytest.approx(T0 + 16)
    assert renewed.events == []

    clock.advance(9)  # T0 + 15: still within the renewed lease
    assert (await store.acquire_lease("B", "host-b", 22, 10.0)).lease is None

    # A starts a run, then stops renewing
    orders = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    run, running, _ = await store.start_run(RunStart(orders.id, 1, "A", SyncMode.FULL, "test"))
    assert running.state == RequestState.RUNNING

    clock.advance(2)  # T0 + 17: expired
    taken = await store.acquire_lease("B", "host-b", 22, 10.0)
    assert taken.lease is not None and taken.taken_over
    assert (taken.lease.holder, taken.lease.epoch) == ("B", 2)
    kinds = [e.kind for e in taken.events]
    assert kinds[0] == EventKind.LEASE_TAKEN
    assert taken.events[0].data["previous"] == "A"
    assert EventKind.RUN_INTERRUPTED in kinds
    assert EventKind.REQUEST_RETRY in kinds

    [interrupted] = await store.runs(request_id=orders.id)
    assert interrupted.id == run.id
    assert interrupted.outcome == RunOutcome.INTERRUPTED
    assert interrupted.finished_at is not None
    requeued = await store.get_request(orders.id)
    assert requeued.state == RequestState.QUEUED
    assert requeued.attempt == 1  # an interruption is not a failed try
    assert (await store.view(history=False)).running is None

    # a holder known to be dead can be taken over before expiry
    stolen = await store.acquire_lease("C", "host-b", 33, 10.0, steal_from="B")
    assert stolen.lease is not None and (stolen.lease.holder, stolen.lease.epoch) == ("C", 3)
    assert (await store.acquire_lease("D", "host-b", 44, 10.0, steal_from="B")).lease is None

    # release: the next acquirer takes over at once
    await store.release_lease("C")
    after = await store.acquire_lease("D", "host-d", 44, 10.0)
    assert after.lease is not None and after.lease.epoch == 4


async def test_stale_epoch_cannot_finish_or_start_and_changes_nothing(
    store: Store, clock: ManualClock
) -> None:
    await store.acquire_lease("A", "host", 1, 10.0)
    orders = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    run, _, _ = await store.start_run(RunStart(orders.id, 1, "A", SyncMode.FULL, "test"))
    clock.advance(11)
    taken = await store.acquire_lease("B", "host", 2, 10.0)
    assert taken.lease is not None and taken.lease.epoch == 2

    services_before = await store.services()
    request_before = await store.get_request(orders.id)
    runs_before = await store.runs()
    last_event = await store.last_event_id()

    with pytest.raises(LeaseLost):
        await store.finish_run(
            RunFinish(
                run.id,
                1,
                RunOutcome.SUCCEEDED,
                RunCounts(fetched=5),
                None,
                None,
                retry_in_s=None,
                breaker=fixed_breaker(0),
            )
        )
    with pytest.raises(LeaseLost):
        await store.start_run(RunStart(orders.id, 1, "A", SyncMode.FULL, "test"))

    assert await store.services() == services_before
    assert await store.get_request(orders.id) == request_before
    assert await store.runs() == runs_before
    assert await store.last_event_id() == last_event

    # the current holder can start it again
    rerun, _, _ = await store.start_run(RunStart(orders.id, 2, "B", SyncMode.FULL, "test"))
    assert rerun.epoch == 2


# -- runs and retries -------------------------------------------------------------------


async def test_finish_run_with_retry_requeues_with_next_attempt(
    store: Store, clock: ManualClock
) -> None:
    await store.acquire_lease("A", "host", 1, 100.0)
    orders = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    run, _, _ = await store.start_run(RunStart(orders.id, 1, "A", SyncMode.FULL, "test"))
    retry_at = await store.now() + timedelta(seconds=30)
    request, finished, _, events = await store.finish_run(
        RunFinish(
            run.id,
            1,
            RunOutcome.FAILED,
            RunCounts(fetched=3),
            "TransientError",
            "flaky",
            retry_in_s=30.0,
            breaker=fixed_breaker(1),
        )
    )
    assert request.state == RequestState.QUEUED
    assert request.attempt == 2
    assert request.not_before == retry_at
    assert finished.outcome == RunOutcome.FAILED
    assert finished.counts.fetched == 3
    assert (finished.error_class, finished.error) == ("TransientError", "flaky")
    assert [e.kind for e in events] == [EventKind.RUN_FINISHED, EventKind.REQUEST_RETRY]
    [orders_state] = [s for s in await store.services() if s.name == "orders"]
    assert orders_state.consecutive_failures == 1
    assert orders_state.last_run_id == run.id
    assert orders_state.last_success_at is None
    with pytest.raises(InvalidTransition):
        await store.finish_run(
            RunFinish(
                run.id,
                1,
                RunOutcome.SUCCEEDED,
                RunCounts(),
                None,
                None,
                None,
                fixed_breaker(0),
            )
        )


async def test_get_run_reads_one_run_by_id_open_or_finished(store: Store) -> None:
    await store.acquire_lease("A", "host", 1, 100.0)
    orders = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    first, _, _ = await store.start_run(RunStart(orders.id, 1, "A", SyncMode.FULL, "test"))
    ok = RunFinish(
        first.id, 1, RunOutcome.SUCCEEDED, RunCounts(), None, None, None, fixed_breaker(0)
    )
    _, done, _, _ = await store.finish_run(ok)
    prices = (await store.enqueue("prices", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    running, _, _ = await store.start_run(RunStart(prices.id, 1, "A", SyncMode.FULL, "test"))
    assert await store.get_run(first.id) == done == (await store.runs(request_id=orders.id))[0]
    assert await store.get_run(running.id) == running and running.outcome is None
    for missing in (running.id + 1, 2**63 - 1):
        with pytest.raises(NotFound):
            await store.get_run(missing)


# -- events -------------------------------------------------------------------------


async def test_events_are_logged_in_order_and_pruned_to_the_newest(store: Store) -> None:
    assert await store.last_event_id() == 0
    for _ in range(3):
        await store.set_controls(dispatch_paused=True)
        await store.set_controls(dispatch_paused=False)
    events = await store.events_since(0)
    assert [e.kind for e in events] == [EventKind.DISPATCH_PAUSED, EventKind.DISPATCH_RESUMED] * 3
    ids = [e.id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 6
    assert await store.last_event_id() == ids[-1]
    assert [e.id for e in await store.events_since(ids[2])] == ids[3:]
    assert [e.id for e in await store.events_since(0, limit=2)] == ids[:2]

    assert await store.prune_events(10) == 0
    assert await store.prune_events(4) == 2
    assert [e.id for e in await store.events_since(0)] == ids[2:]
    assert await store.prune_events(1) == 3
    assert [e.id for e in await store.events_since(0)] == ids[-1:]
    # ids keep growing after a prune: a reader's position stays valid
    more = await store.set_controls(dispatch_paused=True)
    assert more[0].id > ids[-1]


async def test_events_survive_reopen(store_factory: StoreFactory, clock: ManualClock) -> None:
    s = store_factory(clock)
    await s.open()
    await s.register_services({"orders": 4})
    queued = await s.enqueue("orders", SyncMode.FULL, None, RequestSource.API)
    await s.close()
    s = store_factory(clock)
    await s.open()
    [event] = await s.events_since(0)
    assert event == queued.events[0]
    assert event.data == {"mode": "full", "priority": 4, "source": "api"}
