"""What the PostgreSQL store promises beyond the contract, against a real server.

Several connections and processes at once (uniqueness, event order for a
relaying reader, migrating once), a frozen client that must not block a
takeover, notifications, and passwords that never reach a message. Each test
has a database of its own (`pg_database`, copied from a migrated template).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import REPO

from contract.backends import (
    FAST_TIMEOUTS,
    SCHEMA,
    PostgresBackend,
    create_database,
    drop_database,
    new_db_name,
    pg_url,
)
from core.config import Settings
from core.entities import BUILTIN_PRIORITIES
from core.errors import StoreError
from core.models import Event, EventKind, RequestSource, RequestState, SyncMode
from core.runtime import open_store
from core.store.postgres import PostgresStore
from core.store.postgres.connection import PostgresConnection, begin_write
from core.store.postgres.pipeline import PipelineConn
from core.store.postgres.schema import SCHEMA_VERSION

SERVICES = sorted(BUILTIN_PRIORITIES)


@pytest.fixture
def empty_database(pg_template: str) -> Iterator[str]:
    """A database with no syncdeck schema at all."""
    name = new_db_name("empty")
    create_database(name)
    yield name
    drop_database(name)


async def opened(backend: PostgresBackend, n: int) -> list[PostgresStore]:
    stores = [backend.store() for _ in range(n)]
    await asyncio.gather(*(s.open() for s in stores))
    return stores


async def close_all(stores: list[PostgresStore]) -> None:
    await asyncio.gather(*(s.close() for s in stores))


async def test_concurrent_openers_migrate_an_empty_database_once(empty_database: str) -> None:
    backend = PostgresBackend(empty_database)
    stores = await opened(backend, 4)
    try:
        await stores[0].register_services({"orders": 4})
        assert [s.name for s in await stores[3].services()] == ["orders"]
    finally:
        await close_all(stores)
    with backend.raw() as conn:
        versions = conn.execute(f"SELECT version FROM {SCHEMA}.schema_version").fetchall()
    assert versions == [(SCHEMA_VERSION,)]
    assert {"services", "requests", "runs", "controls", "lease", "events"} <= backend.tables()


async def test_concurrent_enqueues_never_queue_two_requests_for_a_service(
    pg_database: str,
) -> None:
    backend = PostgresBackend(pg_database)
    stores = await opened(backend, 4)
    try:
        await stores[0].register_services(dict(BUILTIN_PRIORITIES))
        asks = [
            store.enqueue(SERVICES[(i + k) % len(SERVICES)], SyncMode.AUTO, None, RequestSource.API)
            for k, store in enumerate(stores)
            for i in range(25)
        ]
        results = await asyncio.gather(*asks)
        assert sum(not r.merged for r in results) == len(SERVICES)
        queued = (await stores[1].view(history=False)).queued
        assert sorted(r.service for r in queued) == SERVICES
        assert sum(r.merged + 1 for r in queued) == len(asks)
    finally:
        await close_all(stores)


async def test_partial_unique_indexes_refuse_raw_sql(pg_database: str) -> None:
    backend = PostgresBackend(pg_database)
    [store] = await opened(backend, 1)
    try:
        await store.register_services(dict(BUILTIN_PRIORITIES))
        queued = (await store.enqueue("orders", SyncMode.AUTO, None, RequestSource.MANUAL)).request
    finally:
        await store.close()
    insert = (
        f"INSERT INTO {SCHEMA}.requests (service, mode, priority, state, source, requested_at) "
        "VALUES (%s, 'auto', 1, %s, 'manual', now())"
    )
    with backend.raw() as conn:
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert, ("orders", "queued"))
        # other services and ended rows are fine (so the index is partial, not total)
        for service, state in [
            ("prices", "queued"),
            ("orders", "finished"),
            ("customers", "running"),
        ]:
            conn.execute(insert, (service, state))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert, ("products", "running"))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                f"UPDATE {SCHEMA}.requests SET state = 'running' WHERE id = %s", (queued.id,)
            )


WRITER = """
import asyncio, sys
from core.models import Event, EventKind
from core.store.postgres import PostgresStore

async def main(url, writer, count):
    store = PostgresStore(url)
    await store.open()
    now = await store.now()
    for n in range(count):
        await store.append_events(
            [Event(id=0, at=now, kind=EventKind.RUN_PROGRESS, data={"writer": writer, "n": n})]
        )
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_a_relaying_reader_misses_no_event_of_concurrent_writers(pg_database: str) -> None:
    """Processes and stores appending at once; a reader following `events_since(last)`
    (as an event relay does) sees every event exactly once, in id order."""
    url, count = pg_url(pg_database), 150
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, f"p{i}", str(count)], cwd=REPO)
        for i in range(3)
    ]
    local = await opened(PostgresBackend(pg_database), 2)
    reader = local[0]
    now = await reader.now()

    async def write_locally(store: PostgresStore, writer: str) -> None:
        for n in range(count):
            event = Event(
                id=0, at=now, kind=EventKind.RUN_PROGRESS, data={"writer": writer, "n": n}
            )
            await store.append_events([event])

    seen: list[tuple[int, str, int]] = []
    last = 0

    async def relay_once() -> int:
        nonlocal last
        batch = await reader.events_since(last, limit=50)
        for event in batch:
            seen.append((event.id, event.data["writer"], event.data["n"]))
            last = event.id
        return len(batch)

    writers = asyncio.gather(*(write_locally(s, f"l{k}") for k, s in enumerate(local)))
    try:
        while not writers.done() or any(p.poll() is None for p in processes):
            await relay_once()
            await asyncio.sleep(0.001)
        await writers
        while await relay_once():
            pass
    finally:
        for p in processes:
            p.wait(timeout=60)
        await close_all(local)
    assert [p.returncode for p in processes] == [0, 0, 0]
    ids = [i for i, _, _ in seen]
    assert ids == sorted(set(ids)), "an event was read twice or out of order"
    by_writer: dict[str, list[int]] = {}
    for _, writer, n in seen:
        by_writer.setdefault(writer, []).append(n)
    expected = list(range(count))
    assert by_writer == {w: expected for w in ["p0", "p1", "p2", "l0", "l1"]}


async def test_a_frozen_client_in_a_transaction_does_not_block_a_takeover(
    pg_database: str,
) -> None:
    """A client that began a write transaction, locked the lease row and then froze (a
    SIGSTOPped process) loses its transaction to `idle_in_transaction_session_timeout`, and
    another store takes the expired lease over."""
    backend = PostgresBackend(pg_database)
    first, second = await opened(backend, 2)
    frozen: psycopg.Connection[tuple[object, ...]] | None = None
    try:
        taken = await first.acquire_lease("A", "host-a", 1, ttl_s=0.2)
        assert taken.lease is not None
        session = PostgresConnection(
            backend.url,
            SCHEMA,
            password_file=None,
            clock=None,
            timeouts=FAST_TIMEOUTS,
            pool_size=1,
        )
        frozen = psycopg.connect(backend.url, **session.kwargs("store"))
        # Begun as the store begins a write, in a pipeline, then frozen: nothing more is sent.
        with contextlib.suppress(psycopg.OperationalError), frozen.pipeline() as pipeline:
            synced = PipelineConn(frozen, pipeline)
            begin_write(synced, session.begin_write_sql)
            synced.execute("SELECT holder FROM lease WHERE id = 1 FOR UPDATE").fetchone()
            await asyncio.sleep(0.3)  # the lease has expired; the frozen client still holds it

            started = time.monotonic()
            takeover = await second.acquire_lease("B", "host-b", 2, ttl_s=10.0)
            waited = time.monotonic() - started
            with pytest.raises(psycopg.OperationalError):  # its session is gone
                synced.execute("UPDATE lease SET holder = 'A'").fetchone()
        assert takeover.lease is not None and takeover.taken_over
        assert (takeover.lease.holder, takeover.lease.epoch) == ("B", 2)
        assert 0.5 < waited < FAST_TIMEOUTS.lock_s, waited
        assert (await first.lease()) == takeover.lease
    finally:
        if frozen is not None:
            frozen.close()
        await close_all([first, second])


async def test_another_store_s_write_wakes_a_waiter_at_once(pg_database: str) -> None:
    backend = PostgresBackend(pg_database)
    waiter = PostgresStore(backend.url, poll_interval=30.0)  # so only NOTIFY can wake it
    writer = backend.store()
    await asyncio.gather(waiter.open(), writer.open())
    try:
        await waiter.register_services({"orders": 4})
        assert not await waiter.wait_for_change(0.2), "its own write is no news"
        pending = asyncio.create_task(waiter.wait_for_change(10.0))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await writer.enqueue("orders", SyncMode.FULL, None, RequestSource.CLI)
        assert await pending
        assert time.monotonic() - started < 2.0
        assert not await waiter.wait_for_change(0.2)
    finally:
        await close_all([waiter, writer])


async def test_polling_notices_a_change_without_notifications(pg_database: str) -> None:
    """A lost notification costs latency only: a raw write that bumps the change counter
    without notifying is found by polling."""
    backend = PostgresBackend(pg_database)
    store = PostgresStore(backend.url, poll_interval=0.1)
    await store.open()
    try:
        with backend.raw() as conn:
            conn.execute(f"UPDATE {SCHEMA}.changes SET seq = seq + 1")
        assert await store.wait_for_change(5.0)
    finally:
        await store.close()


async def test_errors_never_show_the_password(tmp_path: Path, pg_template: str) -> None:
    secret = "s3cret-Pa55"
    with pytest.raises(StoreError) as info:
        await PostgresStore(f"postgresql://postgres:{secret}@127.0.0.1:1/nowhere").open()
    assert secret not in str(info.value)
    assert "postgresql://postgres@127.0.0.1:1/nowhere" in str(info.value)

    password_file = tmp_path / "pw"
    password_file.write_text(secret + "\n")
    with pytest.raises(StoreError) as info:
        await PostgresStore(
            "postgresql://postgres@127.0.0.1:1/nowhere", password_file=password_file
        ).open()
    assert secret not in str(info.value)

    with pytest.raises(StoreError, match="password file"):
        await PostgresStore(pg_url("x"), password_file=tmp_path / "missing").open()


async def test_the_runtime_selects_postgres_by_store_url(pg_database: str, data_dir: Path) -> None:
    settings = Settings.from_values(data_dir=data_dir, store={"url": pg_url(pg_database)})
    store = open_store(settings)
    assert isinstance(store, PostgresStore)
    await store.open()
    try:
        await store.register_services({"orders": 4})
        queued = await store.enqueue("orders", SyncMode.FULL, None, RequestSource.CLI)
        assert queued.request.state == RequestState.QUEUED
    finally:
        await store.close()
    assert not (data_dir / "syncdeck.db").exists()


async def test_a_session_the_server_ended_is_replaced_without_an_error(pg_database: str) -> None:
    """The pool checks a connection it hands out without a round trip: one whose session
    the server ended (as a restart ends every session) is closed and replaced, and the
    caller sees no error."""
    backend = PostgresBackend(pg_database)
    store = backend.store()
    await store.open()
    try:
        await store.register_services({"orders": 4})
        with backend.raw() as conn:
            ended = conn.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) "
                "FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'syncdeck-store'"
            ).fetchone()
        assert ended is not None and isinstance(ended[0], int) and ended[0] >= 1, ended
        for _ in range(3):
            assert [s.name for s in await store.services()] == ["orders"]
        queued = await store.enqueue("orders", SyncMode.FULL, None, RequestSource.CLI)
        assert queued.request.state == RequestState.QUEUED
    finally:
        await store.close()
