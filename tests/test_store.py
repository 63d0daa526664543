"""SQLiteStore against real database files: permissions, schema, queue rules, lease fencing."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import stat
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.errors import InvalidTransition, LeaseLost, NotFound, SchemaTooNew, StoreError
from core.health import BreakerUpdate
from core.models import (
    CircuitState,
    EventKind,
    RequestSource,
    RequestState,
    RunCounts,
    RunOutcome,
    SyncMode,
)
from core.store import RunFinish, RunStart, SQLiteStore
from core.store.base import Breaker
from core.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION
from core.sync.entities import BUILTIN_PRIORITIES

T0 = 1_800_000_000.0


def fixed_breaker(failures: int) -> Breaker:
    """A breaker decision that ignores the state: closed, with this many failures."""
    return lambda state, now: BreakerUpdate(CircuitState.CLOSED, failures, None)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def store(data_dir: Path, clock: ManualClock) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(data_dir / "syncdeck.db", clock=clock)
    await s.open()
    await s.register_services(dict(BUILTIN_PRIORITIES))
    yield s
    await s.close()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    return conn


# -- files and schema ---------------------------------------------------------


async def test_new_data_dir_is_0700_and_db_files_are_0600(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "syncdeck.db"
    s = SQLiteStore(path)
    await s.open()
    try:
        await s.register_services({"orders": 4})
        await s.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)
        assert mode_of(path.parent) == 0o700
        assert mode_of(path) == 0o600
        # the WAL holds the same business data as the database file
        wal = path.with_name(path.name + "-wal")
        assert wal.exists()
        assert mode_of(wal) == 0o600
    finally:
        await s.close()


async def test_open_leaves_an_existing_dir_and_file_as_they_are(tmp_path: Path) -> None:
    """Issue 9 #5: `--data-dir` never changes an existing directory's mode."""
    directory = tmp_path / "lax"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    path = directory / "syncdeck.db"
    path.touch()
    path.chmod(0o644)
    s = SQLiteStore(path)
    await s.open()
    await s.close()
    assert mode_of(directory) == 0o755
    assert mode_of(path) == 0o644
    shared = tmp_path / "spool"
    shared.mkdir()
    shared.chmod(0o1777)
    s = SQLiteStore(shared / "syncdeck.db")
    await s.open()
    await s.close()
    assert mode_of(shared) == 0o1777
    assert mode_of(shared / "syncdeck.db") == 0o600  # the file it made is private


async def test_open_migrates_schema_and_reopen_keeps_data(data_dir: Path) -> None:
    path = data_dir / "syncdeck.db"
    s = SQLiteStore(path)
    await s.open()
    await s.register_services({"orders": 4})
    queued = await s.enqueue("orders", SyncMode.FULL, 7, RequestSource.MANUAL)
    await s.close()

    conn = raw(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        conn.close()
    assert {"services", "requests", "runs", "controls", "lease", "events"} == tables - {
        "sqlite_sequence"
    }  # the replica's tables are the replica's business (core.replica.schema)
    assert {"requests_one_queued_per_service", "requests_one_running"} <= indexes

    again = SQLiteStore(path)
    await again.open()
    try:
        assert [r.id for r in (await again.view(history=False)).queued] == [queued.request.id]
        assert (await again.get_request(queued.request.id)).priority == 7
    finally:
        await again.close()


async def test_open_migrates_a_version_1_database_without_losing_rows(data_dir: Path) -> None:
    if SCHEMA_VERSION < 2:
        pytest.skip("only one schema version exists")
    path = data_dir / "syncdeck.db"
    conn = raw(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute(
        "INSERT INTO services (name, default_priority, registered_at) VALUES ('orders', 9, ?)",
        (T0,),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.close()

    s = SQLiteStore(path)
    await s.open()
    try:
        [orders] = await s.services()
        assert (orders.name, orders.default_priority) == ("orders", 9)
    finally:
        await s.close()
    conn = raw(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


def _newer_database(path: Path) -> None:
    conn = raw(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute("INSERT INTO future VALUES (1)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
    conn.close()


async def test_schema_too_new_raises_a_clear_error(data_dir: Path) -> None:
    path = data_dir / "syncdeck.db"
    _newer_database(path)
    s = SQLiteStore(path)
    with pytest.raises(SchemaTooNew) as info:
        await s.open()
    message = str(info.value)
    assert str(path) in message
    assert str(SCHEMA_VERSION + 7) in message
    assert str(SCHEMA_VERSION) in message
    assert "upgrade" in message
    # not half-open: using it is refused, and a second attempt refuses again
    with pytest.raises(StoreError):
        await s.view(history=False)
    with pytest.raises(SchemaTooNew):
        await SQLiteStore(path).open()
    conn = raw(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 7
        assert conn.execute("SELECT x FROM future").fetchall() == [(1,)]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert "requests" not in tables


async def test_schema_too_new_leaves_the_file_byte_for_byte_untouched(data_dir: Path) -> None:
    path = data_dir / "syncdeck.db"
    _newer_database(path)
    before = sha256(path)
    with pytest.raises(SchemaTooNew):
        await SQLiteStore(path).open()
    assert sha256(path) == before


# -- enqueue and merging ----------------------------------------------------------


async def test_enqueue_merges_into_the_one_queued_request(store: SQLiteStore) -> None:
    first = await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)
    assert not first.merged
    assert first.request.state == RequestState.QUEUED
    assert first.request.priority == BUILTIN_PRIORITIES["orders"]
    assert [e.kind for e in first.events] == [EventKind.REQUEST_QUEUED]

    steps = [
        # (mode, priority) asked -> (mode, priority) of the queued request afterwards
        ((SyncMode.INCREMENTAL, None), (SyncMode.INCREMENTAL, 4)),
        ((SyncMode.AUTO, 9), (SyncMode.INCREMENTAL, 9)),
        ((SyncMode.FULL, 2), (SyncMode.FULL, 9)),
        ((SyncMode.INCREMENTAL, 3), (SyncMode.FULL, 9)),
        ((SyncMode.AUTO, None), (SyncMode.FULL, 9)),
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
    assert (stored.mode, stored.priority, stored.merged) == (SyncMode.FULL, 9, len(steps))


async def test_enqueue_refuses_unknown_service_and_bad_priority(store: SQLiteStore) -> None:
    with pytest.raises(NotFound):
        await store.enqueue("nope", SyncMode.AUTO, None, RequestSource.MANUAL)
    with pytest.raises(StoreError, match="between"):
        await store.enqueue("orders", SyncMode.AUTO, 101, RequestSource.MANUAL)
    with pytest.raises(StoreError, match="between"):
        await store.enqueue("orders", SyncMode.AUTO, -1, RequestSource.MANUAL)
    assert (await store.view(history=False)).queued == []


async def test_partial_unique_indexes_refuse_raw_sql(store: SQLiteStore) -> None:
    queued = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    conn = raw(store.path)
    insert = (
        "INSERT INTO requests (service, mode, priority, state, source, requested_at) "
        "VALUES (?, 'auto', 1, ?, 'manual', 0)"
    )
    try:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(insert, ("orders", "queued"))
        # other services and ended rows are fine (so the index is partial, not total)
        conn.execute(insert, ("prices", "queued"))
        conn.execute(insert, ("orders", "cancelled"))
        conn.execute(insert, ("orders", "finished"))
        conn.execute(insert, ("customers", "running"))
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(insert, ("products", "running"))
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute("UPDATE requests SET state = 'running' WHERE id = ?", (queued.id,))
    finally:
        conn.close()
    assert (await store.get_request(queued.id)).state == RequestState.QUEUED


# -- cancel -----------------------------------------------------------------------


async def _lease_and_start(store: SQLiteStore, request_id: int, holder: str = "A") -> tuple:
    lease = (await store.acquire_lease(holder, "host", 1, 30.0)).lease
    assert lease is not None
    run, request, _ = await store.start_run(
        RunStart(request_id, lease.epoch, holder, SyncMode.FULL, "requested")
    )
    return lease, run, request


async def test_cancel_queued_running_and_ended(store: SQLiteStore) -> None:
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


async def test_set_priority_only_on_queued(store: SQLiteStore) -> None:
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


async def test_lease_acquire_renew_expiry_and_takeover(
    store: SQLiteStore, clock: ManualClock
) -> None:
    first = await store.acquire_lease("A", "host-a", 11, 10.0)
    assert first.lease is not None and first.taken_over
    assert (first.lease.holder, first.lease.epoch) == ("A", 1)
    assert first.lease.expires_at.timestamp() == pytest.approx(T0 + 10)
    assert [e.kind for e in first.events] == [EventKind.LEASE_TAKEN]

    assert (await store.acquire_lease("B", "host-b", 22, 10.0)).lease is None

    clock.advance(6)
    renewed = await store.acquire_lease("A", "host-a", 11, 10.0)
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
    store: SQLiteStore, clock: ManualClock
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
    store: SQLiteStore, clock: ManualClock
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


# -- events -------------------------------------------------------------------------


async def test_events_are_logged_in_order_and_pruned_to_the_newest(store: SQLiteStore) -> None:
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


async def test_events_survive_reopen(data_dir: Path, clock: ManualClock) -> None:
    path = data_dir / "syncdeck.db"
    s = SQLiteStore(path, clock=clock)
    await s.open()
    await s.register_services({"orders": 4})
    queued = await s.enqueue("orders", SyncMode.FULL, None, RequestSource.API)
    await s.close()
    s = SQLiteStore(path, clock=clock)
    await s.open()
    try:
        [event] = await s.events_since(0)
    finally:
        await s.close()
    assert event == queued.events[0]
    assert event.data == {"mode": "full", "priority": 4, "source": "api"}


async def test_checkpoint_copies_the_log_into_the_database_file(
    store: SQLiteStore, data_dir: Path, tmp_path: Path
) -> None:
    """The heartbeat's checkpoint (on a connection of its own) copies the write-ahead log
    into the database file: without it the log would only grow."""

    def events_in_main_file() -> int:
        """Events a reader of the database file alone (no log) would see."""
        copy = tmp_path / "main-only.db"
        copy.write_bytes((data_dir / "syncdeck.db").read_bytes())
        with contextlib.closing(sqlite3.connect(copy)) as conn:
            try:
                return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
            except sqlite3.OperationalError:  # even the schema is still in the log only
                return 0

    for _ in range(20):
        await store.enqueue("orders", SyncMode.FULL, None, RequestSource.MANUAL)
    logged = await store.last_event_id()
    assert events_in_main_file() < logged, "the writes should be in the log only"
    await store.maintenance()
    assert events_in_main_file() == logged
