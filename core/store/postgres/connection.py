"""The PostgreSQL store's connections: a pool, the threads that use it, the write lock.

The store's rules are plain functions over a synchronous `Tx`, so the store
runs them on psycopg's synchronous connections, from a `psycopg_pool` pool,
on a few worker threads of its own: the event loop never waits for the
server. (Only the LISTEN connection, in `core.store.postgres.changes`, is
asynchronous.)

**Sessions.** Every connection sets, at connect time, its role's
`idle_in_transaction_session_timeout`, `lock_timeout` and `statement_timeout`,
the schema as its `search_path`, and UTC. The idle-in-transaction timeout lets
a frozen client (a process stopped inside a transaction) lose its transaction
and its locks, so another process can take the lease over. The lock timeout is
longer, so a writer waiting behind a frozen client outlasts it.

**Writes.** Every write transaction begins, in one round trip, by taking the schema's
write lock (`pg_advisory_xact_lock`, held until commit) and bumping the `changes`
counter with a NOTIFY of its value (delivered only on commit). The same round trip reads
the clock, the lease (which every fenced write checks) and the last event id (see
`core.store.postgres.tx`). Holding that one lock, writes commit one after another, so
event ids (an identity column) become visible in id order and a reader following
`events_since(last)` never skips one. Without the lock, concurrent transactions would
commit sequence values out of order. (The counter's row lock would serialize them too;
the advisory lock states it, and a frozen client's timeout releases it along with its
rows.) The clock is `clock_timestamp()` taken once the lock is held, not `now()`: the
transaction's start may predate the previous writer's commit. A given `clock` (a test's
or a simulation's) replaces it. A test may also run a hook inside each write transaction
once it has begun (`after_write_begin`); none by default.

**Round trips.** The transaction runs in psycopg's pipeline mode. A statement whose
result the rule does not read (an UPDATE, the COMMIT) is sent with the next one that it
does read, or with the final sync, instead of costing a round trip of its own. A failure
in one still aborts the transaction: it is raised at the next read or at the commit, and
the transaction is rolled back. Every read ends with a Sync, not a mere flush
(`core.store.postgres.pipeline`), so the idle-in-transaction timeout still ends a client
frozen mid-way. A pooled connection is checked without a round trip: one whose socket
has something to read while idle (a server that ended the session says so, then closes
it) is closed and replaced. A session that died silently fails its first statement, as
any statement may.

**Secrets.** A password comes from the URL, libpq's own `PGPASSWORD` and
`.pgpass`, or `password_file`; no error message carries it: URLs are shown
without it, and it is scrubbed from the server's and driver's messages.

Raises: `StoreError` for every psycopg error, for use before `open()` or after
`close()`, and for an unreadable password file; `SchemaTooNew` from `open()`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import select
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg import pq, sql
from psycopg_pool import ConnectionPool

from core.errors import StoreError, StoreUnwritable
from core.models import to_datetime
from core.sources.sql.urls import redact as redact  # also taken from here (replica, runtime)
from core.store.postgres.pipeline import PipelineConn
from core.store.postgres.rows import Conn
from core.store.postgres.schema import lock_key, migrate
from core.store.sql.columns import LEASE_COLS, Row

T = TypeVar("T")
Role = Literal["store", "listener"]


@dataclass(frozen=True)
class Timeouts:
    """Session timeouts of the store's connections, in seconds (0: none); the first and the
    last are `[store]` settings."""

    idle_in_transaction_s: float = 5.0
    lock_s: float = 10.0
    statement_s: float = 30.0
    connect_s: float = 5.0


class PostgresConnection:
    """The store's pool of connections to one database, its threads, and its write lock."""

    def __init__(
        self,
        url: str,
        schema: str,
        *,
        password_file: Path | None,
        clock: Callable[[], float] | None,
        timeouts: Timeouts,
        pool_size: int,
        after_write_begin: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.schema = schema
        self.channel = f"{schema}_changes"
        self.where = f"PostgreSQL {redact(url)}"
        self._password_file = password_file
        self._clock = clock
        self._after_write_begin = after_write_begin
        self.timeouts = timeouts
        self._pool_size = pool_size
        self._password: str | None = None
        self._secrets = [s for s in (urlsplit(url).password,) if s]
        self._pool: ConnectionPool[Conn] | None = None
        self.committed: Callable[[int], None] | None = None
        """Told, on the store's thread, each change number a write here committed."""
        self._executor: ThreadPoolExecutor | None = None
        key = lock_key(schema, "write")
        self.begin_write_sql = (
            sql.SQL("BEGIN"),
            sql.SQL("SELECT pg_advisory_xact_lock({key})").format(key=sql.Literal(key)),
            sql.SQL(
                "UPDATE changes SET seq = seq + 1 "
                "RETURNING seq, clock_timestamp(), pg_notify({channel}, seq::text)"
            ).format(channel=sql.Literal(self.channel)),
            sql.SQL(f"SELECT {LEASE_COLS} FROM lease WHERE id = 1"),
            sql.SQL("SELECT last_value, is_called FROM events_id_seq"),
            sql.SQL("SELECT last_value, is_called FROM runs_id_seq"),
        )

    # -- sessions -------------------------------------------------------------------

    def kwargs(self, role: Role) -> dict[str, Any]:
        """Connection parameters for a role's sessions (passed to psycopg beside the URL)."""
        t = self.timeouts
        settings = {"search_path": self.schema, "TimeZone": "UTC"}
        if role == "store":
            settings |= {
                "idle_in_transaction_session_timeout": f"{int(t.idle_in_transaction_s * 1000)}",
                "lock_timeout": f"{int(t.lock_s * 1000)}",
                "statement_timeout": f"{int(t.statement_s * 1000)}",
            }
        else:  # LISTEN only: never in a transaction, waits forever by design
            settings |= {"statement_timeout": "0", "idle_session_timeout": "0"}
        found: dict[str, Any] = {
            "options": " ".join(f"-c {k}={v}" for k, v in settings.items()),
            "application_name": f"syncdeck-{role}",
            "connect_timeout": max(1, int(t.connect_s)),
            "autocommit": True,
        }
        if self._password is not None:
            found["password"] = self._password
        return found

    def error(self, exc: BaseException) -> StoreError:
        """`StoreError` naming the database (never the password) for a psycopg error."""
        lines = str(exc).strip().splitlines()
        message = lines[0].strip() if lines else type(exc).__name__
        for secret in self._secrets:
            message = message.replace(secret, "***")
        state = getattr(exc, "sqlstate", None) or ""
        if isinstance(exc, psycopg.OperationalError) and (not state or state[:2] in ("08", "57")):
            # No session (no SQLSTATE, a pool timeout), a connection exception or a server
            # shutdown: the pool reconnects with backoff and the call may pass later.
            return StoreUnwritable(f"store unreachable: {self.where}: {message}")
        return StoreError(f"{self.where}: {message}")

    # -- lifecycle --------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def open(self) -> None:
        """Migrate on a connection of its own (its errors are the clearest), then fill the
        pool. Raises SchemaTooNew, StoreError."""
        if self._password_file is not None:
            try:
                self._password = self._password_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise StoreError(f"store password file {self._password_file}: {exc}") from None
            self._secrets.append(self._password)
        executor = ThreadPoolExecutor(self._pool_size, thread_name_prefix="syncdeck-pg")
        loop = asyncio.get_running_loop()
        try:
            self._pool = await loop.run_in_executor(executor, self._open_sync)
        except psycopg.Error as exc:
            executor.shutdown(wait=False)
            raise self.error(exc) from None
        except BaseException:
            executor.shutdown(wait=False)
            raise
        self._executor = executor

    def _open_sync(self) -> ConnectionPool[Conn]:
        with psycopg.connect(self.url, **self.kwargs("store")) as conn:
            migrate(conn, self.schema, self.where)
        pool: ConnectionPool[Conn] = ConnectionPool(
            self.url,
            kwargs=self.kwargs("store"),
            min_size=1,
            max_size=self._pool_size,
            open=False,
            name=f"syncdeck-{self.schema}",
            timeout=self.timeouts.connect_s,
            num_workers=1,
            check=check_idle,  # drop sessions a server restart killed
            reconnect_timeout=86400.0,  # keep trying with backoff while it is down
        )
        pool.open(wait=True, timeout=self.timeouts.connect_s)
        return pool

    async def close(self) -> None:
        pool, executor = self._pool, self._executor
        self._pool = self._executor = None
        if pool is not None:
            await asyncio.to_thread(pool.close)
        if executor is not None:
            executor.shutdown(wait=True)

    # -- calls ----------------------------------------------------------------------

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` on a pooled connection (autocommit: each statement is its
        own transaction unless `fn` opens one), on a store thread."""
        return await self._on_thread(self._with_conn, fn, args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, begun, *args)` in one write transaction (see the module docstring),
        `conn` a `PipelineConn`; its change number goes to `committed` once it commits."""
        return await self._on_thread(self._with_conn, self._write_tx, (fn, args))

    async def _on_thread(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise StoreError("store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        except psycopg.Error as exc:
            raise self.error(exc) from None

    def _with_conn(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        pool = self._pool
        if pool is None:
            raise StoreError("store is not open")
        with pool.connection() as conn:
            return fn(conn, *args)

    def _write_tx(self, conn: Conn, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            with conn.pipeline() as pipeline:
                synced = PipelineConn(conn, pipeline)
                begun = begin_write(synced, self.begin_write_sql)
                if self._after_write_begin is not None:
                    self._after_write_begin()
                if self._clock is not None:
                    begun = dataclasses.replace(begun, now=to_datetime(self._clock()))
                result = fn(synced, begun, *args)
                if conn.info.transaction_status == pq.TransactionStatus.INERROR:
                    raise StoreError("a statement failed inside the transaction")
                conn.execute("COMMIT")
            # The pipeline's sync has run the COMMIT: anything else is a failure it skipped.
            if conn.info.transaction_status != pq.TransactionStatus.IDLE:
                raise StoreError("the transaction did not commit")
        except BaseException:
            if not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
            raise
        committed = self.committed
        if committed is not None:
            committed(begun.seq)
        return result

    @property
    def clock(self) -> Callable[[], datetime] | None:
        """The clock given to the store, as datetimes, or None: the server's is the one."""
        clock = self._clock
        return None if clock is None else lambda: to_datetime(clock())

    def now_sync(self, conn: Conn) -> datetime:
        """The database's clock, read on `conn`."""
        row = conn.execute("SELECT clock_timestamp()").fetchone()
        assert row is not None
        when: datetime = row[0]
        return when

    async def now(self) -> datetime:
        """The store's clock: the database's, unless one was given."""
        clock = self.clock
        return clock() if clock is not None else await self.call(self.now_sync)

    def change_seq_sync(self, conn: Conn) -> int:
        row = conn.execute("SELECT seq FROM changes WHERE id = 1").fetchone()
        return 0 if row is None else int(row[0])

    async def change_seq(self) -> int:
        """The number of write transactions committed so far (the polling fallback's look)."""
        return await self.call(self.change_seq_sync)


@dataclass(frozen=True)
class Begun:
    """What the start of a write transaction read: its change number, the store's time, and
    the lease's row (None: no lease yet), read under the write lock, so that nobody else
    changes it before this transaction ends."""

    seq: int
    now: datetime
    lease_row: Row | None
    last_event_id: int
    """The events' identity sequence's last value (see `core.store.postgres.tx`)."""
    last_run_id: int
    """The runs' identity sequence's last value, likewise."""


def begin_write(conn: PipelineConn, statements: tuple[sql.Composed | sql.SQL, ...]) -> Begun:
    """BEGIN, take the write lock, count the change, queue its NOTIFY, read the clock, the
    lease and the last event and run ids: one round trip on a connection in pipeline mode."""
    *_, counted, lease, event_seq, run_seq = [conn.execute(statement) for statement in statements]
    row = counted.fetchone()
    assert row is not None
    return Begun(
        int(row[0]),
        row[1],
        lease.fetchone(),
        _last_id(event_seq.fetchone()),
        _last_id(run_seq.fetchone()),
    )


def _last_id(row: Row | None) -> int:
    """An identity sequence's last value handed out (last_value counts only once called)."""
    assert row is not None
    return int(row[0]) if row[1] else int(row[0]) - 1


def check_idle(conn: Conn) -> None:
    """The pool's check of a connection it hands out, without a round trip (see the module
    docstring). Raises psycopg.OperationalError for a connection it closed."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the session is closed")
    poller = select.poll()  # not select(): a descriptor may be above FD_SETSIZE
    poller.register(conn.fileno(), select.POLLIN)
    if poller.poll(0):  # an idle session has nothing to say, but its end
        conn.close()
        raise psycopg.OperationalError("the server ended the session")
