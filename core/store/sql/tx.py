"""The one `Tx`: the store rules' primitives as SQL on one open write transaction.

It only executes: every decision is in `core.store.rules`. Every backend runs
the same statements; what differs (placeholders, how values are encoded, the
driver's unique-violation error, row locks) comes from its `Dialect`. The
backend opens the transaction with its own write lock (SQLite: `BEGIN
IMMEDIATE`, the one writer; PostgreSQL: the schema's advisory lock), so every
transition is serialized with every other. Where the backend has row locks,
`service()` and `lease()` also lock what they read, as the `Tx` protocol asks.

A primitive that raises leaves the transaction to be rolled back (PostgreSQL
aborts it at its first failed statement): the rules never go on after one.
A write whose result nobody reads is only executed: a pipelining backend
sends it with the next statement whose result is read (a read, an event's
id, the commit), and its failure, if any, is raised there. The one refusal
a rule must hear as such, a partial unique index refusing a request's new
state, is read back at once.

Raises: `NotFound` where the `Tx` protocol says so; `InvalidTransition` when a
partial unique index (one queued per service, one running) refuses a write;
the driver's errors for the rest, which the backend maps to `StoreError`.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, ClassVar, Protocol

from core.errors import InvalidTransition, NotFound
from core.models import (
    Controls,
    Event,
    EventKind,
    Lease,
    Progress,
    RunnerPlan,
    RunRecord,
    ServiceState,
    SyncRequest,
)
from core.store.sql import queries
from core.store.sql.columns import LEASE_COLS, REQUEST_COLS, SERVICE_COLS, Dialect

_WRITABLE = {
    "requests": frozenset(REQUEST_COLS.split(", ")) - {"id"},
    "services": frozenset(SERVICE_COLS.split(", ")) - {"name"} | {"health_reasons"},
}

_SERVICE_ROW = f"SELECT {SERVICE_COLS} FROM services WHERE name = ?"
_QUEUED_FOR = f"SELECT {REQUEST_COLS} FROM requests WHERE state = 'queued' AND service = ?"


@cache
def _update_sql(table: str, key: str, columns: tuple[str, ...], param: str) -> str:
    unknown = set(columns) - _WRITABLE[table]
    if unknown:
        raise ValueError(f"not a writable column of {table}: {sorted(unknown)}")
    sets = ", ".join(f"{c} = {param}" for c in columns)
    return f"UPDATE {table} SET {sets} WHERE {key} = {param}"


class Connection(Protocol):
    """What both drivers' connections offer: `execute` returning a cursor."""

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...


_UNREAD: Any = object()


RUN_COLUMNS = (
    "request_id, service, requested_mode, mode, mode_reason, attempt, epoch, holder, started_at"
)
"""The columns a new run's row is given (`SqlTx.run_values`)."""


class SqlTx:
    """`core.store.tx.Tx` over a connection inside a write transaction of `dialect`.

    `lease_row`, when given, is the lease's row as the backend read it after taking its
    write lock (or None: no lease yet), so that `lease()` costs no statement."""

    dialect: ClassVar[Dialect]

    def __init__(self, conn: Connection, lease_row: Any = _UNREAD) -> None:
        self.conn = conn
        self._lease: Lease | None = _UNREAD
        if lease_row is not _UNREAD:
            self._lease = self.dialect.decode.lease(lease_row)

    def _sql(self, sql: str) -> str:
        return sql if self.dialect.param == "?" else sql.replace("?", self.dialect.param)

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(self._sql(sql), params).fetchone()

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return list(self.conn.execute(self._sql(sql), params).fetchall())

    def _fetch(self, sql: str, params: Any) -> list[Any]:
        return list(self.conn.execute(sql, tuple(params)).fetchall())

    # -- reads ------------------------------------------------------------------

    def request(self, request_id: int) -> SyncRequest:
        return queries.request(self._fetch, self.dialect, request_id)

    def queued_for(self, service: str) -> SyncRequest | None:
        row = self._one(_QUEUED_FOR, (service,))
        return None if row is None else self.dialect.decode.request(row)

    def running_requests(self) -> list[SyncRequest]:
        found = self._all(f"SELECT {REQUEST_COLS} FROM requests WHERE state = 'running'")
        return [self.dialect.decode.request(r) for r in found]

    def service(self, name: str) -> ServiceState:
        return self._service(self._one(_SERVICE_ROW + self.dialect.row_lock, (name,)), name)

    def _service(self, row: Any, name: str) -> ServiceState:
        if row is None:
            raise NotFound(f"unknown service {name!r}")
        return self.dialect.decode.service(row)

    def service_and_queued(self, name: str) -> tuple[ServiceState, SyncRequest | None]:
        # Both sent before either is read: one round trip in a pipeline. The service row is
        # still locked first.
        service = self.conn.execute(self._sql(_SERVICE_ROW + self.dialect.row_lock), (name,))
        queued = self.conn.execute(self._sql(_QUEUED_FOR), (name,))
        state = self._service(service.fetchone(), name)
        row = queued.fetchone()
        return state, None if row is None else self.dialect.decode.request(row)

    def run(self, run_id: int) -> RunRecord:
        return queries.run(self._fetch, self.dialect, run_id)

    def open_run_ids(self, request_id: int) -> list[int]:
        found = self._all(
            "SELECT id FROM runs WHERE request_id = ? AND outcome IS NULL", (request_id,)
        )
        return [int(r[0]) for r in found]

    def lease(self) -> Lease | None:
        # Read once: it is locked (or read under the write lock) until the transaction ends,
        # and `write_lease` keeps the copy current.
        if self._lease is _UNREAD:
            row = self._one(f"SELECT {LEASE_COLS} FROM lease WHERE id = 1{self.dialect.row_lock}")
            self._lease = self.dialect.decode.lease(row)
        return self._lease

    def controls(self) -> Controls:
        return queries.controls(self._fetch)

    # -- writes -----------------------------------------------------------------

    def add_service(self, name: str, default_priority: int, now: datetime) -> None:
        self.conn.execute(
            self._sql(
                "INSERT INTO services (name, default_priority, registered_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING"
            ),
            (name, default_priority, self.dialect.encode(now)),
        )

    def insert_request(self, request: SyncRequest) -> int:
        encode = self.dialect.encode
        try:
            row = self._one(
                "INSERT INTO requests (service, mode, priority, state, source, requested_at, "
                "priority_set) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    request.service,
                    request.mode.value,
                    request.priority,
                    request.state.value,
                    request.source.value,
                    encode(request.requested_at),
                    encode(request.priority_set),
                ),
            )
        except self.dialect.unique_violation as exc:
            raise InvalidTransition(f"{request.service} already has a queued request") from exc
        return 0 if row is None else int(row[0])

    def update_request(self, request_id: int, **changes: Any) -> None:
        sql = _update_sql("requests", "id", tuple(changes), self.dialect.param)
        params = (*map(self.dialect.encode, changes.values()), request_id)
        try:
            if "state" in changes:  # the one change a unique index may refuse: hear it now
                self.conn.execute(f"{sql} RETURNING id", params).fetchone()
            else:
                self.conn.execute(sql, params)
        except self.dialect.unique_violation as exc:
            raise InvalidTransition("another request is already running") from exc

    def insert_run(self, run: RunRecord) -> int:
        """Open the run's row and return its id; a backend that knows the next id without
        asking overrides it (as for events)."""
        row = self._one(
            f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            self.run_values(run),
        )
        return 0 if row is None else int(row[0])

    def run_values(self, run: RunRecord) -> tuple[Any, ...]:
        """A new run's row, in `RUN_COLUMNS` order."""
        return (
            run.request_id,
            run.service,
            run.requested_mode.value,
            run.mode.value,
            run.mode_reason,
            run.attempt,
            run.epoch,
            run.holder,
            self.dialect.encode(run.started_at),
        )

    def end_run(self, run: RunRecord) -> None:
        c, encode = run.counts, self.dialect.encode
        self.conn.execute(
            self._sql(
                "UPDATE runs SET finished_at = ?, outcome = ?, error_class = ?, error = ?, "
                "fetched = ?, inserted = ?, updated = ?, unchanged = ?, deleted = ?, "
                "rejected = ? WHERE id = ?"
            ),
            (
                encode(run.finished_at),
                encode(run.outcome),
                run.error_class,
                run.error,
                c.fetched,
                c.inserted,
                c.updated,
                c.unchanged,
                c.deleted,
                c.rejected,
                run.id,
            ),
        )

    def update_service(self, name: str, **changes: Any) -> None:
        sql = _update_sql("services", "name", tuple(changes), self.dialect.param)
        self.conn.execute(sql, (*map(self.dialect.encode, changes.values()), name))

    def write_lease(self, lease: Lease) -> None:
        self._lease = lease
        encode = self.dialect.encode
        self.conn.execute(
            self._sql(
                f"INSERT INTO lease (id, {LEASE_COLS}) VALUES (1, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, "
                "host = excluded.host, pid = excluded.pid, epoch = excluded.epoch, "
                "acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, "
                "renewed_at = excluded.renewed_at"
            ),
            (
                lease.holder,
                lease.host,
                lease.pid,
                lease.epoch,
                encode(lease.acquired_at),
                encode(lease.expires_at),
                encode(lease.renewed_at),
            ),
        )

    def write_controls(self, controls: Controls) -> None:
        encode = self.dialect.encode
        self.conn.execute(
            self._sql("UPDATE controls SET dispatch_paused = ?, schedule_paused = ? WHERE id = 1"),
            (encode(controls.dispatch_paused), encode(controls.schedule_paused)),
        )

    def write_progress(self, run_id: int, progress: Progress) -> None:
        self.conn.execute(
            self._sql("UPDATE runs SET progress = ? WHERE id = ?"),
            (self.dialect.to_json(progress), run_id),
        )

    def write_plan(self, plan: RunnerPlan) -> None:
        self.conn.execute(
            self._sql(
                "INSERT INTO runner_plan (id, holder, epoch, published_at, plan) "
                "VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, "
                "epoch = excluded.epoch, published_at = excluded.published_at, "
                "plan = excluded.plan"
            ),
            (
                plan.holder,
                plan.epoch,
                self.dialect.encode(plan.published_at),
                self.dialect.to_json(plan),
            ),
        )

    def _insert_event(self, values: tuple[Any, ...]) -> int:
        """Append one row (at, kind, service, request_id, run_id, data) and return its id;
        a backend that knows the next id without asking overrides it."""
        row = self._one(
            "INSERT INTO events (at, kind, service, request_id, run_id, data) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            values,
        )
        return 0 if row is None else int(row[0])

    def emit(
        self,
        now: datetime,
        kind: EventKind,
        service: str | None = None,
        request_id: int | None = None,
        run_id: int | None = None,
        **data: Any,
    ) -> Event:
        event_id = self._insert_event(
            (
                self.dialect.encode(now),
                kind.value,
                service,
                request_id,
                run_id,
                self.dialect.event_json(data),
            )
        )
        return Event(
            id=event_id,
            at=now,
            kind=kind,
            service=service,
            request_id=request_id,
            run_id=run_id,
            data=data,
        )
