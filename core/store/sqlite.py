"""The embedded default store: one SQLite file (WAL) in the data directory.

All statements run on one worker thread that owns the connection, so the event
loop never waits on disk. Every mutation is a `BEGIN IMMEDIATE` transaction
that also appends its events; partial unique indexes enforce "one queued
request per service" and "one running request" whatever the callers do. The
clock is this host's wall clock: every process sharing the file is on this host.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from core.errors import InvalidTransition, LeaseLost, NotFound, SchemaTooNew, StoreError
from core.models import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    CircuitState,
    Controls,
    Event,
    EventKind,
    HealthState,
    Lease,
    RequestSource,
    RequestState,
    RunCounts,
    RunOutcome,
    RunRecord,
    ServiceState,
    SyncMode,
    SyncRequest,
    to_datetime,
)
from core.policy import merge
from core.store.base import (
    EnqueueResult,
    Histogram,
    LeaseResult,
    RunFinish,
    RunStart,
    RunStats,
    StoreView,
)

T = TypeVar("T")

DB_FILENAME = "syncdeck.db"

MIGRATIONS: list[str] = [
    # 1: the orchestrator's state
    """
    CREATE TABLE services (
        name TEXT PRIMARY KEY,
        default_priority INTEGER NOT NULL,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        circuit TEXT NOT NULL DEFAULT 'closed',
        circuit_opened_at REAL,
        last_success_at REAL,
        last_run_id INTEGER,
        registered_at REAL NOT NULL,
        interval_s REAL,
        offset_s REAL,
        schedule_enabled INTEGER,
        health TEXT NOT NULL DEFAULT 'healthy',
        health_reasons TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        mode TEXT NOT NULL,
        priority INTEGER NOT NULL,
        state TEXT NOT NULL,
        source TEXT NOT NULL,
        requested_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        attempt INTEGER NOT NULL DEFAULT 1,
        not_before REAL,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        outcome TEXT,
        merged INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX requests_one_queued_per_service ON requests(service)
        WHERE state = 'queued';
    CREATE UNIQUE INDEX requests_one_running ON requests(state) WHERE state = 'running';
    CREATE INDEX requests_open ON requests(state, service)
        WHERE state IN ('queued', 'running');
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id INTEGER NOT NULL REFERENCES requests(id),
        service TEXT NOT NULL,
        requested_mode TEXT NOT NULL,
        mode TEXT NOT NULL,
        mode_reason TEXT NOT NULL DEFAULT '',
        attempt INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        holder TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        outcome TEXT,
        error_class TEXT,
        error TEXT,
        fetched INTEGER NOT NULL DEFAULT 0,
        inserted INTEGER NOT NULL DEFAULT 0,
        updated INTEGER NOT NULL DEFAULT 0,
        unchanged INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_service ON runs(service, id);
    CREATE INDEX runs_by_request ON runs(request_id, id);
    CREATE TABLE controls (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        dispatch_paused INTEGER NOT NULL DEFAULT 0,
        schedule_paused INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO controls (id) VALUES (1);
    CREATE TABLE lease (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        holder TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        acquired_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        renewed_at REAL NOT NULL
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        service TEXT,
        request_id INTEGER,
        run_id INTEGER,
        data TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2: the replica (a public contract: see the README) and the sync engine's state
    """
    CREATE TABLE customers (
        id TEXT NOT NULL PRIMARY KEY,
        name TEXT,
        email TEXT,
        country TEXT,
        credit_limit REAL,
        updated_at TEXT NOT NULL,
        row_hash BLOB NOT NULL,
        synced_at TEXT NOT NULL,
        deleted_at TEXT
    );
    CREATE INDEX customers_by_cursor ON customers(updated_at);
    CREATE TABLE products (
        sku TEXT NOT NULL PRIMARY KEY,
        name TEXT,
        category TEXT,
        unit TEXT,
        active INTEGER,
        weight_kg REAL,
        updated_at TEXT NOT NULL,
        row_hash BLOB NOT NULL,
        synced_at TEXT NOT NULL,
        deleted_at TEXT
    );
    CREATE INDEX products_by_cursor ON products(updated_at);
    CREATE TABLE prices (
        id TEXT NOT NULL PRIMARY KEY,
        sku TEXT,
        currency TEXT,
        amount REAL,
        valid_from TEXT,
        updated_at TEXT NOT NULL,
        row_hash BLOB NOT NULL,
        synced_at TEXT NOT NULL,
        deleted_at TEXT
    );
    CREATE INDEX prices_by_cursor ON prices(updated_at);
    CREATE TABLE orders (
        id TEXT NOT NULL PRIMARY KEY,
        customer_id TEXT,
        status TEXT,
        currency TEXT,
        total REAL,
        ordered_at TEXT,
        updated_at TEXT NOT NULL,
        row_hash BLOB NOT NULL,
        synced_at TEXT NOT NULL,
        deleted_at TEXT
    );
    CREATE INDEX orders_by_cursor ON orders(updated_at);
    CREATE TABLE order_lines (
        order_id TEXT NOT NULL,
        line_no INTEGER NOT NULL,
        sku TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price REAL NOT NULL,
        PRIMARY KEY (order_id, line_no)
    );
    CREATE TABLE sync_state (
        entity TEXT PRIMARY KEY,
        cursor TEXT,
        last_full_at REAL,
        mapping_version INTEGER NOT NULL DEFAULT 0,
        needs_full TEXT,
        updated_at REAL NOT NULL
    );
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        entity TEXT NOT NULL,
        record_key TEXT,
        payload TEXT NOT NULL,
        reason TEXT NOT NULL,
        run_id INTEGER,
        at TEXT NOT NULL
    );
    CREATE INDEX quarantine_by_entity ON quarantine(entity, id);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

_REQUEST_COLS = (
    "id, service, mode, priority, state, source, requested_at, started_at, finished_at, "
    "attempt, not_before, cancel_requested, outcome, merged"
)
_RUN_COLS = (
    "id, request_id, service, requested_mode, mode, mode_reason, attempt, epoch, holder, "
    "started_at, finished_at, outcome, error_class, error, "
    "fetched, inserted, updated, unchanged, deleted, rejected"
)
_SERVICE_COLS = (
    "name, default_priority, consecutive_failures, circuit, circuit_opened_at, last_success_at, "
    "last_run_id, registered_at, interval_s, offset_s, schedule_enabled, health"
)


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _request(row: sqlite3.Row) -> SyncRequest:
    return SyncRequest(
        id=row[0],
        service=row[1],
        mode=SyncMode(row[2]),
        priority=row[3],
        state=RequestState(row[4]),
        source=RequestSource(row[5]),
        requested_at=to_datetime(row[6]),
        started_at=to_datetime(row[7]),
        finished_at=to_datetime(row[8]),
        attempt=row[9],
        not_before=to_datetime(row[10]),
        cancel_requested=bool(row[11]),
        outcome=None if row[12] is None else RunOutcome(row[12]),
        merged=row[13],
    )


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row[0],
        request_id=row[1],
        service=row[2],
        requested_mode=SyncMode(row[3]),
        mode=SyncMode(row[4]),
        mode_reason=row[5],
        attempt=row[6],
        epoch=row[7],
        holder=row[8],
        started_at=to_datetime(row[9]),
        finished_at=to_datetime(row[10]),
        outcome=None if row[11] is None else RunOutcome(row[11]),
        error_class=row[12],
        error=row[13],
        counts=RunCounts(
            fetched=row[14],
            inserted=row[15],
            updated=row[16],
            unchanged=row[17],
            deleted=row[18],
            rejected=row[19],
        ),
    )


def _service(row: sqlite3.Row) -> ServiceState:
    return ServiceState(
        name=row[0],
        default_priority=row[1],
        consecutive_failures=row[2],
        circuit=CircuitState(row[3]),
        circuit_opened_at=to_datetime(row[4]),
        last_success_at=to_datetime(row[5]),
        last_run_id=row[6],
        registered_at=to_datetime(row[7]),
        interval_s=row[8],
        offset_s=row[9],
        schedule_enabled=None if row[10] is None else bool(row[10]),
        health=HealthState(row[11]),
    )


def _lease(row: sqlite3.Row | None) -> Lease | None:
    if row is None:
        return None
    return Lease(
        holder=row[0],
        host=row[1],
        pid=row[2],
        epoch=row[3],
        acquired_at=to_datetime(row[4]),
        expires_at=to_datetime(row[5]),
        renewed_at=to_datetime(row[6]),
    )


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    message = str(exc).lower()
    return "locked" in message or "busy" in message


def check_priority(priority: int) -> None:
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise StoreError(
            f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}, not {priority}"
        )


def prepare_private_path(path: Path) -> None:
    """The store holds business data: owner-only directory (0700) and file (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class SQLiteStore:
    """Store on one SQLite database file shared by every process on this host."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        poll_interval: float = 0.1,
        busy_timeout_ms: int = 10_000,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._poll_interval = poll_interval
        self._busy_timeout_ms = busy_timeout_ms
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        """Whoever holds it owns the connection: the loop (inline) or the store thread."""
        self._busy_now = -1
        self._data_version = 0
        self._checkpointer: sqlite3.Connection | None = None
        """A second connection, used only on the store thread, only to checkpoint."""

    # -- plumbing -----------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn` on the connection: inline when that cannot wait, else on the store thread.

        Inline, the call runs with a zero busy timeout: if another connection holds the
        write lock it fails at once (rolled back, nothing done) and goes to the store
        thread, which waits for the lock there. So the event loop never waits on a lock;
        it does not checkpoint either (the heartbeat does, off the loop). This halves the
        cost of a store call, which is what the orchestrator's throughput is made of.
        """
        if self._executor is None:
            raise StoreError("store is not open")
        if self._lock.acquire(blocking=False):
            try:
                self._set_busy_timeout(0)
                return fn(*args)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
            finally:
                self._lock.release()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._locked, fn, args)

    def _locked(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """On the store thread: wait for the write lock by polling it every millisecond
        (SQLite's own busy handler backs off to 100 ms sleeps, which an operator would
        feel while a sync holds the lock batch after batch)."""
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        while True:
            with self._lock:
                self._set_busy_timeout(0)
                try:
                    return fn(*args)
                except sqlite3.OperationalError as exc:
                    if not _is_busy(exc) or time.monotonic() > deadline:
                        raise
            time.sleep(0.001)

    def _set_busy_timeout(self, ms: int) -> None:
        if self._busy_now != ms and self._conn is not None:
            self._db.execute(f"PRAGMA busy_timeout = {ms}")
            self._busy_now = ms

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("store is not open")
        return self._conn

    def _tx(self, fn: Callable[[float], T]) -> T:
        conn = self._db
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(self._clock())
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def _emit(
        self,
        now: float,
        kind: EventKind,
        service: str | None = None,
        request_id: int | None = None,
        run_id: int | None = None,
        **data: Any,
    ) -> Event:
        cur = self._db.execute(
            "INSERT INTO events (at, kind, service, request_id, run_id, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (now, kind.value, service, request_id, run_id, json.dumps(data, default=str)),
        )
        return Event(
            id=cur.lastrowid or 0,
            at=to_datetime(now),
            kind=kind,
            service=service,
            request_id=request_id,
            run_id=run_id,
            data=data,
        )

    def _get_request(self, request_id: int) -> SyncRequest:
        row = self._db.execute(
            f"SELECT {_REQUEST_COLS} FROM requests WHERE id = ?", (request_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no request #{request_id}")
        return _request(row)

    def _queued_for(self, service: str) -> SyncRequest | None:
        row = self._db.execute(
            f"SELECT {_REQUEST_COLS} FROM requests WHERE state = 'queued' AND service = ?",
            (service,),
        ).fetchone()
        return None if row is None else _request(row)

    def _service_state(self, service: str) -> ServiceState:
        row = self._db.execute(
            f"SELECT {_SERVICE_COLS} FROM services WHERE name = ?", (service,)
        ).fetchone()
        if row is None:
            raise NotFound(f"unknown service {service!r}")
        return _service(row)

    # -- lifecycle ----------------------------------------------------------

    async def open(self) -> None:
        if self.path.exists():
            await asyncio.to_thread(self._refuse_newer_schema)  # before touching the file
        prepare_private_path(self.path)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="syncdeck-store")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._locked, self._open_sync, ())
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    def _refuse_newer_schema(self) -> None:
        """Read the schema version read-only: a database from a newer syncdeck is left as is."""
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{self.path} has schema version {version}, but this syncdeck knows only up to "
                f"{SCHEMA_VERSION}: upgrade syncdeck, or point it at another data directory"
            )

    def _open_sync(self) -> None:
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            timeout=self._busy_timeout_ms / 1000,
            check_same_thread=False,
        )
        self._conn = conn
        conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        self._busy_now = self._busy_timeout_ms
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a process crash loses no committed transaction.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Checkpoints write the database file and sync it: `checkpoint()` does them on the
        # store thread, never inline on the event loop.
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            self._conn = None
            raise SchemaTooNew(
                f"{self.path} has schema version {version}, but this syncdeck knows only up to "
                f"{SCHEMA_VERSION}: upgrade syncdeck, or point it at another data directory"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = conn.execute("PRAGMA user_version").fetchone()[0]
                if current < target:  # another process may have migrated meanwhile
                    for statement in MIGRATIONS[target - 1].split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {target}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        self._data_version = conn.execute("PRAGMA data_version").fetchone()[0]

    async def checkpoint(self) -> None:
        """Copy the write-ahead log into the database (passive: never waits for readers).

        On a connection of its own: a checkpoint writes and syncs the database file,
        which can take tens of milliseconds, and the main connection stays free for
        the calls the loop makes meanwhile (a console's redraw, an operator's key)."""
        if self._executor is None:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._checkpoint_sync)

    def _checkpoint_sync(self) -> None:
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(
                self.path, isolation_level=None, timeout=0, check_same_thread=False
            )
        try:
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):  # busy: another process is checkpointing; next time
                raise

    async def close(self) -> None:
        if self._executor is None:
            return
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close_checkpointer)
        await self._call(self._close_sync)
        self._executor.shutdown(wait=True)
        self._executor = None

    def _close_checkpointer(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def now(self) -> datetime:
        return to_datetime(self._clock())

    async def wait_for_change(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if await self._call(self._data_changed):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(self._poll_interval, remaining))

    def _data_changed(self) -> bool:
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        changed: bool = version != self._data_version
        self._data_version = version
        return changed

    async def view(self, history: bool = True) -> StoreView:
        def read() -> StoreView:
            db = self._db
            db.execute("BEGIN")
            try:
                now = self._clock()
                c = db.execute(
                    "SELECT dispatch_paused, schedule_paused FROM controls WHERE id = 1"
                ).fetchone()
                services = [
                    _service(r)
                    for r in db.execute(f"SELECT {_SERVICE_COLS} FROM services ORDER BY name")
                ]
                requests = [
                    _request(r)
                    for r in db.execute(
                        f"SELECT {_REQUEST_COLS} FROM requests "
                        "WHERE state IN ('queued', 'running') ORDER BY id"
                    )
                ]
                running = next((r for r in requests if r.state == RequestState.RUNNING), None)
                running_run = None
                if running is not None and history:
                    row = db.execute(
                        f"SELECT {_RUN_COLS} FROM runs WHERE request_id = ? AND outcome IS NULL "
                        "ORDER BY id DESC LIMIT 1",
                        (running.id,),
                    ).fetchone()
                    running_run = None if row is None else _run(row)
                last_runs = (
                    {}
                    if not history
                    else {
                        run.service: run
                        for run in map(
                            _run,
                            db.execute(
                                f"SELECT {', '.join('r.' + c for c in _RUN_COLS.split(', '))} "
                                "FROM runs r JOIN services s ON r.id = s.last_run_id"
                            ),
                        )
                    }
                )
                lease = _lease(self._lease_row())
            finally:
                db.execute("COMMIT")
            return StoreView(
                now=to_datetime(now),
                controls=Controls(dispatch_paused=bool(c[0]), schedule_paused=bool(c[1])),
                services=services,
                queued=[r for r in requests if r.state == RequestState.QUEUED],
                running=running,
                running_run=running_run,
                lease=lease,
                last_runs=last_runs,
            )

        return await self._call(read)

    # -- services and controls ----------------------------------------------

    async def register_services(self, defaults: dict[str, int]) -> None:
        def tx(now: float) -> None:
            for name, priority in defaults.items():
                self._db.execute(
                    "INSERT INTO services (name, default_priority, registered_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO NOTHING",
                    (name, priority, now),
                )

        await self._call(self._tx, tx)

    async def services(self) -> list[ServiceState]:
        def read() -> list[ServiceState]:
            rows = self._db.execute(f"SELECT {_SERVICE_COLS} FROM services ORDER BY name")
            return [_service(row) for row in rows]

        return await self._call(read)

    async def set_default_priority(self, service: str, priority: int) -> list[Event]:
        check_priority(priority)

        def tx(now: float) -> list[Event]:
            old = self._service_state(service).default_priority
            self._db.execute(
                "UPDATE services SET default_priority = ? WHERE name = ?", (priority, service)
            )
            return [
                self._emit(now, EventKind.DEFAULT_PRIORITY_CHANGED, service, old=old, new=priority)
            ]

        return await self._call(self._tx, tx)

    async def set_schedule(
        self,
        service: str,
        interval_s: float | None,
        offset_s: float | None,
        enabled: bool | None,
    ) -> list[Event]:
        def tx(now: float) -> list[Event]:
            self._service_state(service)
            self._db.execute(
                "UPDATE services SET interval_s = ?, offset_s = ?, schedule_enabled = ? "
                "WHERE name = ?",
                (interval_s, offset_s, None if enabled is None else int(enabled), service),
            )
            return [
                self._emit(
                    now,
                    EventKind.SCHEDULE_CHANGED,
                    service,
                    interval_s=interval_s,
                    offset_s=offset_s,
                    enabled=enabled,
                )
            ]

        return await self._call(self._tx, tx)

    async def set_health(
        self, service: str, health: HealthState, reasons: list[str]
    ) -> list[Event]:
        def tx(now: float) -> list[Event]:
            old = self._service_state(service).health
            self._db.execute(
                "UPDATE services SET health = ?, health_reasons = ? WHERE name = ?",
                (health.value, json.dumps(reasons), service),
            )
            return [
                self._emit(
                    now,
                    EventKind.HEALTH_CHANGED,
                    service,
                    old=old.value,
                    new=health.value,
                    reasons=reasons,
                )
            ]

        return await self._call(self._tx, tx)

    async def controls(self) -> Controls:
        def read() -> Controls:
            row = self._db.execute(
                "SELECT dispatch_paused, schedule_paused FROM controls WHERE id = 1"
            ).fetchone()
            return Controls(dispatch_paused=bool(row[0]), schedule_paused=bool(row[1]))

        return await self._call(read)

    async def set_controls(
        self, dispatch_paused: bool | None = None, schedule_paused: bool | None = None
    ) -> list[Event]:
        def tx(now: float) -> list[Event]:
            row = self._db.execute(
                "SELECT dispatch_paused, schedule_paused FROM controls WHERE id = 1"
            ).fetchone()
            events: list[Event] = []
            if dispatch_paused is not None and bool(row[0]) != dispatch_paused:
                self._db.execute(
                    "UPDATE controls SET dispatch_paused = ? WHERE id = 1", (int(dispatch_paused),)
                )
                kind = EventKind.DISPATCH_PAUSED if dispatch_paused else EventKind.DISPATCH_RESUMED
                events.append(self._emit(now, kind))
            if schedule_paused is not None and bool(row[1]) != schedule_paused:
                self._db.execute(
                    "UPDATE controls SET schedule_paused = ? WHERE id = 1", (int(schedule_paused),)
                )
                kind = EventKind.SCHEDULE_PAUSED if schedule_paused else EventKind.SCHEDULE_RESUMED
                events.append(self._emit(now, kind))
            return events

        return await self._call(self._tx, tx)

    # -- requests -----------------------------------------------------------

    async def enqueue(
        self, service: str, mode: SyncMode, priority: int | None, source: RequestSource
    ) -> EnqueueResult:
        if priority is not None:
            check_priority(priority)

        def tx(now: float) -> EnqueueResult:
            state = self._service_state(service)
            wanted = state.default_priority if priority is None else priority
            queued = self._queued_for(service)
            if queued is not None:
                merged = merge(queued.mode, queued.priority, mode, wanted)
                # An operator asking now should not wait out a retry's backoff.
                clear_backoff = source != RequestSource.SCHEDULE
                self._db.execute(
                    "UPDATE requests SET mode = ?, priority = ?, merged = merged + 1, "
                    "not_before = CASE WHEN ? THEN NULL ELSE not_before END WHERE id = ?",
                    (merged.mode.value, merged.priority, clear_backoff, queued.id),
                )
                event = self._emit(
                    now,
                    EventKind.REQUEST_MERGED,
                    service,
                    queued.id,
                    mode=merged.mode.value,
                    priority=merged.priority,
                    source=source.value,
                )
                updated = msgspec.structs.replace(
                    queued,
                    mode=merged.mode,
                    priority=merged.priority,
                    merged=queued.merged + 1,
                    not_before=None if clear_backoff else queued.not_before,
                )
                return EnqueueResult(updated, True, [event])
            cur = self._db.execute(
                "INSERT INTO requests (service, mode, priority, state, source, requested_at) "
                "VALUES (?, ?, ?, 'queued', ?, ?)",
                (service, mode.value, wanted, source.value, now),
            )
            request_id = cur.lastrowid or 0
            event = self._emit(
                now,
                EventKind.REQUEST_QUEUED,
                service,
                request_id,
                mode=mode.value,
                priority=wanted,
                source=source.value,
            )
            request = SyncRequest(
                id=request_id,
                service=service,
                mode=mode,
                priority=wanted,
                state=RequestState.QUEUED,
                source=source,
                requested_at=to_datetime(now),
            )
            return EnqueueResult(request, False, [event])

        return await self._call(self._tx, tx)

    async def get_request(self, request_id: int) -> SyncRequest:
        return await self._call(self._get_request, request_id)

    async def queued(self) -> list[SyncRequest]:
        def read() -> list[SyncRequest]:
            rows = self._db.execute(
                f"SELECT {_REQUEST_COLS} FROM requests WHERE state = 'queued' ORDER BY id"
            )
            return [_request(row) for row in rows]

        return await self._call(read)

    async def running(self) -> SyncRequest | None:
        def read() -> SyncRequest | None:
            row = self._db.execute(
                f"SELECT {_REQUEST_COLS} FROM requests WHERE state = 'running'"
            ).fetchone()
            return None if row is None else _request(row)

        return await self._call(read)

    async def set_priority(self, request_id: int, priority: int) -> list[Event]:
        check_priority(priority)

        def tx(now: float) -> list[Event]:
            request = self._get_request(request_id)
            if request.state != RequestState.QUEUED:
                raise InvalidTransition(
                    f"request #{request_id} is {request.state.value}; only a queued request's "
                    "priority can change"
                )
            self._db.execute(
                "UPDATE requests SET priority = ? WHERE id = ?", (priority, request_id)
            )
            return [
                self._emit(
                    now,
                    EventKind.PRIORITY_CHANGED,
                    request.service,
                    request_id,
                    old=request.priority,
                    new=priority,
                )
            ]

        return await self._call(self._tx, tx)

    async def cancel(self, request_id: int) -> tuple[SyncRequest, list[Event]]:
        def tx(now: float) -> tuple[SyncRequest, list[Event]]:
            request = self._get_request(request_id)
            if request.state == RequestState.QUEUED:
                self._db.execute(
                    "UPDATE requests SET state = 'cancelled', outcome = 'cancelled', "
                    "finished_at = ? WHERE id = ?",
                    (now, request_id),
                )
                event = self._emit(now, EventKind.REQUEST_CANCELLED, request.service, request_id)
                return self._get_request(request_id), [event]
            if request.state == RequestState.RUNNING:
                if request.cancel_requested:
                    return request, []
                self._db.execute(
                    "UPDATE requests SET cancel_requested = 1 WHERE id = ?", (request_id,)
                )
                event = self._emit(now, EventKind.REQUEST_CANCEL_ASKED, request.service, request_id)
                return self._get_request(request_id), [event]
            raise InvalidTransition(f"request #{request_id} already ended ({request.state.value})")

        return await self._call(self._tx, tx)

    # -- lease and runs -----------------------------------------------------

    async def acquire_lease(
        self, holder: str, host: str, pid: int, ttl_s: float, steal_from: str | None = None
    ) -> LeaseResult:
        def tx(now: float) -> LeaseResult:
            row = self._db.execute(
                "SELECT holder, host, pid, epoch, acquired_at, expires_at, renewed_at "
                "FROM lease WHERE id = 1"
            ).fetchone()
            current = _lease(row)
            if current is not None and current.holder == holder:
                self._db.execute(
                    "UPDATE lease SET expires_at = ?, renewed_at = ? WHERE id = 1",
                    (now + ttl_s, now),
                )
                return LeaseResult(_lease(self._lease_row()))
            if (
                current is not None
                and current.expires_at.timestamp() > now
                and current.holder != steal_from
            ):
                return LeaseResult(None)
            epoch = 1 if current is None else current.epoch + 1
            self._db.execute(
                "INSERT OR REPLACE INTO lease (id, holder, host, pid, epoch, acquired_at, "
                "expires_at, renewed_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
                (holder, host, pid, epoch, now, now + ttl_s, now),
            )
            events = [
                self._emit(
                    now,
                    EventKind.LEASE_TAKEN,
                    holder=holder,
                    host=host,
                    pid=pid,
                    epoch=epoch,
                    previous=None if current is None else current.holder,
                )
            ]
            previous = "a previous runner" if current is None else f"runner {current.holder}"
            events += self._interrupt_running(now, f"{previous} stopped while it ran")
            return LeaseResult(_lease(self._lease_row()), taken_over=True, events=events)

        return await self._call(self._tx, tx)

    def _lease_row(self) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(
            "SELECT holder, host, pid, epoch, acquired_at, expires_at, renewed_at "
            "FROM lease WHERE id = 1"
        ).fetchone()
        return row

    def _interrupt_running(self, now: float, why: str) -> list[Event]:
        """Runs a dead runner left open become `interrupted`; their requests run again."""
        events: list[Event] = []
        rows = self._db.execute(
            f"SELECT {_REQUEST_COLS} FROM requests WHERE state = 'running'"
        ).fetchall()
        for request in map(_request, rows):
            for (run_id,) in self._db.execute(
                "SELECT id FROM runs WHERE request_id = ? AND outcome IS NULL", (request.id,)
            ).fetchall():
                self._db.execute(
                    "UPDATE runs SET outcome = 'interrupted', finished_at = ?, "
                    "error_class = 'Interrupted', error = ? WHERE id = ?",
                    (now, why, run_id),
                )
                events.append(
                    self._emit(
                        now, EventKind.RUN_INTERRUPTED, request.service, request.id, run_id, why=why
                    )
                )
            events += self._end_or_requeue(now, request, RunOutcome.INTERRUPTED, retry_at=now)
        return events

    def _end_or_requeue(
        self, now: float, request: SyncRequest, outcome: RunOutcome, retry_at: float | None
    ) -> list[Event]:
        """End a running request, or queue it again (merging into a queued one if any)."""
        service, rid = request.service, request.id
        if request.cancel_requested and outcome != RunOutcome.SUCCEEDED:
            outcome, retry_at = RunOutcome.CANCELLED, None
        if retry_at is not None:
            attempt = request.attempt if outcome == RunOutcome.INTERRUPTED else request.attempt + 1
            queued = self._queued_for(service)
            if queued is None:
                self._db.execute(
                    "UPDATE requests SET state = 'queued', started_at = NULL, attempt = ?, "
                    "not_before = ? WHERE id = ?",
                    (attempt, retry_at, rid),
                )
                return [
                    self._emit(
                        now,
                        EventKind.REQUEST_RETRY,
                        service,
                        rid,
                        attempt=attempt,
                        not_before=retry_at,
                        after=outcome.value,
                    )
                ]
            # A newer request is already queued: it carries the retry on. One the schedule
            # made waits out the backoff; one an operator made runs as soon as it can, just
            # as when the operator's request arrives after the retry (see `enqueue`).
            merged = merge(queued.mode, queued.priority, request.mode, request.priority)
            backoff = retry_at if queued.source == RequestSource.SCHEDULE else None
            self._db.execute(
                "UPDATE requests SET mode = ?, priority = ?, merged = merged + 1, "
                "attempt = MAX(attempt, ?), not_before = ? WHERE id = ?",
                (merged.mode.value, merged.priority, attempt, backoff, queued.id),
            )
            events = [
                self._emit(
                    now,
                    EventKind.REQUEST_MERGED,
                    service,
                    queued.id,
                    mode=merged.mode.value,
                    priority=merged.priority,
                    source=RequestSource.RETRY.value,
                    superseded=rid,
                )
            ]
        else:
            events = []
        state = RequestState.CANCELLED if outcome == RunOutcome.CANCELLED else RequestState.FINISHED
        self._db.execute(
            "UPDATE requests SET state = ?, outcome = ?, finished_at = ? WHERE id = ?",
            (state.value, outcome.value, now, rid),
        )
        kind = (
            EventKind.REQUEST_CANCELLED
            if state == RequestState.CANCELLED
            else EventKind.REQUEST_FINISHED
        )
        events.append(self._emit(now, kind, service, rid, outcome=outcome.value))
        return events

    def _check_epoch(self, epoch: int, holder: str | None = None) -> None:
        current = _lease(self._lease_row())
        if current is None or current.epoch != epoch or (holder and current.holder != holder):
            raise LeaseLost(
                f"runner lease epoch {epoch} is stale"
                + ("" if current is None else f" (now {current.epoch}, held by {current.holder})")
            )

    async def release_lease(self, holder: str) -> list[Event]:
        def tx(now: float) -> list[Event]:
            cur = self._db.execute(
                "UPDATE lease SET expires_at = ? WHERE id = 1 AND holder = ?", (now, holder)
            )
            if cur.rowcount == 0:
                return []
            return [self._emit(now, EventKind.LEASE_LOST, holder=holder, reason="released")]

        return await self._call(self._tx, tx)

    async def lease(self) -> Lease | None:
        return await self._call(lambda: _lease(self._lease_row()))

    async def start_run(self, start: RunStart) -> tuple[RunRecord, SyncRequest, list[Event]]:
        def tx(now: float) -> tuple[RunRecord, SyncRequest, list[Event]]:
            self._check_epoch(start.epoch, start.holder)
            request = self._get_request(start.request_id)
            if request.state != RequestState.QUEUED:
                raise InvalidTransition(
                    f"request #{request.id} is {request.state.value}, not queued"
                )
            try:
                self._db.execute(
                    "UPDATE requests SET state = 'running', started_at = ? WHERE id = ?",
                    (now, request.id),
                )
            except sqlite3.IntegrityError as exc:
                raise InvalidTransition("another request is already running") from exc
            events: list[Event] = []
            if start.half_open_probe:
                self._db.execute(
                    "UPDATE services SET circuit = 'half_open' WHERE name = ?", (request.service,)
                )
                events.append(
                    self._emit(
                        now,
                        EventKind.CIRCUIT_CHANGED,
                        request.service,
                        request.id,
                        circuit="half_open",
                    )
                )
            cur = self._db.execute(
                "INSERT INTO runs (request_id, service, requested_mode, mode, mode_reason, "
                "attempt, epoch, holder, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request.id,
                    request.service,
                    request.mode.value,
                    start.mode.value,
                    start.mode_reason,
                    request.attempt,
                    start.epoch,
                    start.holder,
                    now,
                ),
            )
            run_id = cur.lastrowid or 0
            events.append(
                self._emit(
                    now,
                    EventKind.RUN_STARTED,
                    request.service,
                    request.id,
                    run_id,
                    mode=start.mode.value,
                    reason=start.mode_reason,
                    attempt=request.attempt,
                )
            )
            started = to_datetime(now)
            run = RunRecord(
                id=run_id,
                request_id=request.id,
                service=request.service,
                requested_mode=request.mode,
                mode=start.mode,
                mode_reason=start.mode_reason,
                attempt=request.attempt,
                epoch=start.epoch,
                holder=start.holder,
                started_at=started,
            )
            running = msgspec.structs.replace(
                request, state=RequestState.RUNNING, started_at=started
            )
            return run, running, events

        return await self._call(self._tx, tx)

    def _get_run(self, run_id: int) -> RunRecord:
        row = self._db.execute(f"SELECT {_RUN_COLS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFound(f"no run #{run_id}")
        return _run(row)

    async def finish_run(
        self, finish: RunFinish
    ) -> tuple[SyncRequest, RunRecord, ServiceState, list[Event]]:
        def tx(now: float) -> tuple[SyncRequest, RunRecord, ServiceState, list[Event]]:
            self._check_epoch(finish.epoch)
            run = self._get_run(finish.run_id)
            if run.outcome is not None:
                raise InvalidTransition(f"run #{run.id} already ended ({run.outcome.value})")
            c = finish.counts
            self._db.execute(
                "UPDATE runs SET finished_at = ?, outcome = ?, error_class = ?, error = ?, "
                "fetched = ?, inserted = ?, updated = ?, unchanged = ?, deleted = ?, rejected = ? "
                "WHERE id = ?",
                (
                    now,
                    finish.outcome.value,
                    finish.error_class,
                    finish.error,
                    c.fetched,
                    c.inserted,
                    c.updated,
                    c.unchanged,
                    c.deleted,
                    c.rejected,
                    run.id,
                ),
            )
            events = [
                self._emit(
                    now,
                    EventKind.RUN_FINISHED,
                    run.service,
                    run.request_id,
                    run.id,
                    outcome=finish.outcome.value,
                    mode=run.mode.value,
                    error=finish.error,
                    counts=msgspec.structs.asdict(c),
                    duration=now - run.started_at.timestamp(),
                )
            ]
            state = self._service_state(run.service)
            breaker = finish.breaker(state, to_datetime(now))
            succeeded = finish.outcome == RunOutcome.SUCCEEDED
            self._db.execute(
                "UPDATE services SET consecutive_failures = ?, circuit = ?, circuit_opened_at = ?, "
                "last_run_id = ?, last_success_at = CASE WHEN ? THEN ? ELSE last_success_at END "
                "WHERE name = ?",
                (
                    breaker.consecutive_failures,
                    breaker.circuit.value,
                    _ts(breaker.opened_at),
                    run.id,
                    succeeded,
                    now,
                    run.service,
                ),
            )
            if state.circuit != breaker.circuit:
                events.append(
                    self._emit(
                        now,
                        EventKind.CIRCUIT_CHANGED,
                        run.service,
                        run.request_id,
                        run.id,
                        circuit=breaker.circuit.value,
                        failures=breaker.consecutive_failures,
                    )
                )
            service = msgspec.structs.replace(
                state,
                consecutive_failures=breaker.consecutive_failures,
                circuit=breaker.circuit,
                circuit_opened_at=breaker.opened_at,
                last_run_id=run.id,
                last_success_at=to_datetime(now) if succeeded else state.last_success_at,
            )
            request = self._get_request(run.request_id)
            retry_at = None if finish.retry_in_s is None else now + finish.retry_in_s
            events += self._end_or_requeue(now, request, finish.outcome, retry_at)
            finished = msgspec.structs.replace(
                run,
                finished_at=to_datetime(now),
                outcome=finish.outcome,
                error_class=finish.error_class,
                error=finish.error,
                counts=c,
            )
            return self._get_request(run.request_id), finished, service, events

        return await self._call(self._tx, tx)

    async def runs(
        self, service: str | None = None, limit: int = 50, request_id: int | None = None
    ) -> list[RunRecord]:
        def read() -> list[RunRecord]:
            where: list[str] = []
            args: list[object] = []
            if service is not None:
                where.append("service = ?")
                args.append(service)
            if request_id is not None:
                where.append("request_id = ?")
                args.append(request_id)
            clause = f"WHERE {' AND '.join(where)}" if where else ""
            rows = self._db.execute(
                f"SELECT {_RUN_COLS} FROM runs {clause} ORDER BY id DESC LIMIT ?", (*args, limit)
            )
            return [_run(row) for row in rows]

        return await self._call(read)

    # -- events -------------------------------------------------------------

    async def append_events(self, events: list[Event]) -> list[Event]:
        def tx(now: float) -> list[Event]:
            return [
                self._emit(e.at.timestamp(), e.kind, e.service, e.request_id, e.run_id, **e.data)
                for e in events
            ]

        return await self._call(self._tx, tx)

    async def events_since(self, after_id: int, limit: int = 1000) -> list[Event]:
        def read() -> list[Event]:
            rows = self._db.execute(
                "SELECT id, at, kind, service, request_id, run_id, data FROM events "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            )
            return [
                Event(
                    id=r[0],
                    at=to_datetime(r[1]),
                    kind=EventKind(r[2]),
                    service=r[3],
                    request_id=r[4],
                    run_id=r[5],
                    data=json.loads(r[6]),
                )
                for r in rows
            ]

        return await self._call(read)

    async def last_event_id(self) -> int:
        def read() -> int:
            row = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
            return int(row[0])

        return await self._call(read)

    async def prune_events(self, keep: int) -> int:
        def tx(now: float) -> int:
            cur = self._db.execute(
                "DELETE FROM events WHERE id <= (SELECT COALESCE(MAX(id), 0) FROM events) - ?",
                (keep,),
            )
            return cur.rowcount

        return await self._call(self._tx, tx)

    # -- added for the API metrics --

    async def run_stats(
        self, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
    ) -> RunStats:
        kinds = tuple(RunCounts.__struct_fields__)

        def histogram(rows: list[sqlite3.Row], bounds: tuple[float, ...]) -> Histogram:
            row = rows[0] if rows else None
            if row is None or not row[0]:  # no runs: COUNT 0, every SUM NULL
                return Histogram(bounds, tuple(0 for _ in bounds), 0, 0.0)
            return Histogram(bounds, tuple(int(v) for v in row[2:]), int(row[0]), float(row[1]))

        def buckets(value: str, bounds: tuple[float, ...]) -> str:
            return "".join(f", SUM(CASE WHEN {value} <= ? THEN 1 ELSE 0 END)" for _ in bounds)

        def read() -> RunStats:
            db = self._db
            db.execute("BEGIN")  # one snapshot for every aggregate below
            try:
                runs = {
                    (r[0], r[1]): int(r[2])
                    for r in db.execute(
                        "SELECT service, outcome, COUNT(*) FROM runs "
                        "WHERE outcome IS NOT NULL GROUP BY service, outcome"
                    )
                }
                duration = "finished_at - started_at"
                durations: dict[str, Histogram] = {}
                for row in db.execute(
                    f"SELECT service, COUNT(*), SUM({duration})"
                    f"{buckets(duration, duration_buckets)} FROM runs "
                    "WHERE outcome IS NOT NULL GROUP BY service",
                    duration_buckets,
                ):
                    durations[row[0]] = histogram([row[1:]], duration_buckets)
                wait = "MAX(0, runs.started_at - requests.requested_at)"
                wait_rows = db.execute(
                    f"SELECT COUNT(*), SUM({wait}){buckets(wait, wait_buckets)} FROM runs "
                    "JOIN requests ON requests.id = runs.request_id WHERE runs.attempt = 1",
                    wait_buckets,
                ).fetchall()
                sums = ", ".join(f"COALESCE(SUM({kind}), 0)" for kind in kinds)
                rows = {
                    (r[0], kind): int(value)
                    for r in db.execute(f"SELECT service, {sums} FROM runs GROUP BY service")
                    for kind, value in zip(kinds, r[1:], strict=True)
                }
                last_success = {
                    r[0]: to_datetime(r[1])
                    for r in db.execute(
                        "SELECT name, last_success_at FROM services "
                        "WHERE last_success_at IS NOT NULL"
                    )
                }
                epoch = db.execute("SELECT COALESCE(MAX(epoch), 0) FROM lease").fetchone()[0]
            finally:
                db.execute("COMMIT")
            return RunStats(
                runs=runs,
                durations=durations,
                queue_wait=histogram(wait_rows, wait_buckets),
                rows=rows,
                last_success=last_success,
                lease_epoch=int(epoch),
            )

        return await self._call(read)
