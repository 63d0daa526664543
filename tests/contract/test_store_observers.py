"""What observers read of the runner, on every backend: a run's latest progress and the
runner's published plan (schedule and health rules), both fenced by the lease's epoch,
and the schema migrating forward to hold them."""

from __future__ import annotations

import msgspec
import pytest
from support.clock import ManualClock

from contract.backends import Backend, StoreFactory
from core.entities import BUILTIN_PRIORITIES
from core.errors import LeaseLost
from core.models import EventKind, PlannedService, Progress, RequestSource, RunnerPlan, SyncMode
from core.store import RunStart, Store


async def _running(store: Store) -> tuple[int, int]:
    """Holder A (epoch 1) runs an orders sync: (run id, request id)."""
    await store.acquire_lease("A", "host", 1, 10.0)
    orders = (await store.enqueue("orders", SyncMode.FULL, None, RequestSource.MANUAL)).request
    run, _, _ = await store.start_run(RunStart(orders.id, 1, "A", SyncMode.FULL, "test"))
    return run.id, orders.id


async def test_progress_is_kept_on_the_running_run_and_announced(store: Store) -> None:
    run_id, request_id = await _running(store)
    assert (await store.view()).running_progress is None

    events = await store.record_progress(run_id, 1, Progress(phase="fetch", done=10, total=40))
    last = Progress(phase="write", done=30, total=40, rate=12.5)
    events += await store.record_progress(run_id, 1, last)

    view = await store.view()
    assert view.running_run is not None and view.running_run.id == run_id
    # the latest, not the first, stamped with the store's clock so that observers can age it
    assert view.running_progress == msgspec.structs.replace(last, recorded_at=await store.now())
    assert [e.kind for e in events] == [EventKind.RUN_PROGRESS] * 2
    logged = (await store.events_since(events[0].id - 1))[-1]
    assert (logged.run_id, logged.request_id, logged.data["done"]) == (run_id, request_id, 30)
    # the dispatcher's cheap read leaves it out
    assert (await store.view(history=False)).running_progress is None


async def test_progress_of_a_stale_epoch_is_refused(store: Store, clock: ManualClock) -> None:
    run_id, _ = await _running(store)
    await store.record_progress(run_id, 1, Progress(done=5))
    clock.advance(11)
    assert (await store.acquire_lease("B", "host", 2, 10.0)).lease is not None
    last_event = await store.last_event_id()
    with pytest.raises(LeaseLost):
        await store.record_progress(run_id, 1, Progress(done=99))
    assert await store.last_event_id() == last_event
    # the takeover interrupted the run: nothing is running, and nothing was written
    assert (await store.view()).running is None
    assert (await store.runs())[0].outcome is not None


def _plan(holder: str, epoch: int, interval_s: float) -> RunnerPlan:
    return RunnerPlan(
        holder=holder,
        epoch=epoch,
        schedule=True,
        failure_threshold=5,
        cooldown_s=42.0,
        services=[
            PlannedService(service="orders", interval_s=interval_s, offset_s=3.0, enabled=True)
        ],
    )


async def test_published_plan_is_in_the_view_and_fenced(store: Store, clock: ManualClock) -> None:
    assert (await store.view()).plan is None
    await store.acquire_lease("A", "host", 1, 10.0)
    await store.publish_plan(_plan("A", 1, 60.0))
    await store.publish_plan(_plan("A", 1, 90.0))  # replaced, not added
    plan = (await store.view()).plan
    assert plan is not None and plan.holder == "A" and plan.cooldown_s == 42.0
    assert plan.services[0].interval_s == 90.0
    assert plan.published_at == await store.now()

    with pytest.raises(LeaseLost):  # not the holder
        await store.publish_plan(_plan("B", 1, 5.0))
    clock.advance(11)
    await store.acquire_lease("B", "host", 2, 10.0)
    with pytest.raises(LeaseLost):  # A's epoch is over
        await store.publish_plan(_plan("A", 1, 5.0))
    kept = (await store.view()).plan
    assert kept is not None and kept.services[0].interval_s == 90.0
    await store.publish_plan(_plan("B", 2, 7.0))
    taken = (await store.view()).plan
    assert taken is not None and (taken.holder, taken.epoch) == ("B", 2)


async def test_an_older_schema_migrates_forward_to_hold_them(
    backend: Backend, store_factory: StoreFactory, clock: ManualClock
) -> None:
    before_plan = next(n for n, m in enumerate(backend.migrations) if "runner_plan" in m)
    backend.make_older(before_plan)  # and every migration since runs too
    assert "runner_plan" not in backend.tables()
    store = store_factory(clock=clock)
    await store.open()
    await store.register_services(BUILTIN_PRIORITIES)
    assert backend.stored_version() == backend.schema_version
    run_id, _ = await _running(store)
    await store.record_progress(run_id, 1, Progress(done=3, total=9))
    await store.publish_plan(_plan("A", 1, 60.0))
    view = await store.view()
    assert view.running_progress == Progress(done=3, total=9, recorded_at=await store.now())
    assert view.plan is not None and view.plan.holder == "A"
