"""The lease's renew rule on every backend: renew only `WHERE holder = me AND epoch = my
epoch AND expires_at >= now()`; an expired lease is taken again under a new epoch, which
fences every write made under the old one (a cut-off runner that comes back records nothing).
"""

from __future__ import annotations

import pytest
from support.clock import ManualClock

from contract.backends import T0
from core.errors import LeaseLost
from core.models import RequestSource, RequestState, RunOutcome, SyncMode
from core.store import RunStart, Store


async def test_lease_renews_only_for_its_holder_epoch_and_before_expiry(
    store: Store, clock: ManualClock
) -> None:
    """An expired lease is never extended, even for its holder (another process may have
    judged it free): it is taken again under a new epoch, fencing the old one's writes."""
    first = await store.acquire_lease("A", "host-a", 11, 10.0)
    assert first.lease is not None and first.lease.epoch == 1
    orders = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    run, _, _ = await store.start_run(RunStart(orders.id, 1, "A", SyncMode.FULL, "test"))

    clock.advance(10)  # expires_at == now: still the holder's to renew
    at_edge = await store.acquire_lease("A", "host-a", 11, 10.0, epoch=1)
    assert at_edge.lease is not None and not at_edge.taken_over and at_edge.lease.epoch == 1

    # the holder with a wrong epoch does not renew: it takes a new term
    wrong = await store.acquire_lease("A", "host-a", 11, 10.0, epoch=7)
    assert wrong.lease is not None and wrong.taken_over and wrong.lease.epoch == 2

    clock.advance(10.5)  # expired
    late = await store.acquire_lease("A", "host-a", 11, 10.0, epoch=2)
    assert late.lease is not None and late.taken_over and late.lease.epoch == 3
    assert late.lease.expires_at.timestamp() == pytest.approx(T0 + 30.5)
    [interrupted] = await store.runs(request_id=orders.id)
    assert interrupted.id == run.id and interrupted.outcome == RunOutcome.INTERRUPTED
    with pytest.raises(LeaseLost):
        await store.start_run(RunStart(orders.id, 2, "A", SyncMode.FULL, "late"))
    assert (await store.get_request(orders.id)).state == RequestState.QUEUED
