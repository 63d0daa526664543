"""What only the SQLite store promises, on real database files: permissions, the WAL, the
schema in the file, its indexes and checkpoints. What every backend promises is the contract
suite's (`tests/contract/test_store_contract.py`)."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.clock import ManualClock

from core.entities import BUILTIN_PRIORITIES
from core.errors import SchemaTooNew
from core.models import (
    RequestSource,
    RequestState,
    SyncMode,
)
from core.store import SQLiteStore
from core.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION

T0 = 1_800_000_000.0


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
    # the replica's tables are the replica's business (core.replica.schema)
    expected = {"services", "requests", "runs", "controls", "lease", "events", "runner_plan"}
    assert expected == tables - {"sqlite_sequence"}
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


async def test_schema_too_new_leaves_the_file_byte_for_byte_untouched(data_dir: Path) -> None:
    path = data_dir / "syncdeck.db"
    _newer_database(path)
    before = sha256(path)
    with pytest.raises(SchemaTooNew):
        await SQLiteStore(path).open()
    assert sha256(path) == before


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
