"""The SQL source's side of the database: one SQLAlchemy engine (a small pool, made on
first use), and every read as one short read-only transaction on it.

`Reader.read(entity, what, work, stop)` checks a connection out and runs the dialect's
session statements on it once (`core.sources.sql.dialects`). It then opens the read-only
transaction, runs `work(connection)`, and commits. After a failure it rolls back (or
drops the connection if that fails too), so no connection goes back to the pool inside
a transaction. `stop` set while PostgreSQL runs a statement cancels it
(`connection.cancel_safe()`, by the reader's one thread for it:
`core.sources.sql.cancel`); other drivers finish the statement. Either way the read
then raises `SourceInterrupted`.

Raises `SourceUnavailable` or `SourceError` as `core.sources.sql.failures` classifies
the failure. The message is one line naming the source, its URL without the password,
the entity and the database's own message (passwords scrubbed). Raises `SourceError` for
a driver that is not installed (the mssql and oracle extras).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from core.errors import SourceError, SourceInterrupted, SourceUnavailable
from core.sources.sql import dialects, statements
from core.sources.sql.cancel import Canceller
from core.sources.sql.failures import classify, message
from core.sources.sql.mapping import SqlEntity
from core.sources.sql.urls import Dialect, redact, scrub, secrets_of

T = TypeVar("T")

POOL_SIZE = 2
"""Connections kept: the engine's reader thread and an estimate or check beside it."""
CANCEL_POLL_S = 0.05
CHILD_BATCH = 1000
"""Parents per child SELECT (`parent IN (...)`): Oracle allows 1000 values in an IN list,
SQL Server 2100 parameters per statement."""
EXTRAS = {"mssql": "mssql", "oracle": "oracle"}


class Reader:
    def __init__(
        self,
        url: str,
        dialect: Dialect,
        *,
        source_name: str,
        shown_url: str,
        connect_timeout_s: float,
        query_timeout_s: float,
    ) -> None:
        self.dialect: Dialect = dialect
        self._url = url
        self._source = source_name
        self._shown = redact(shown_url)
        self._secrets = secrets_of(shown_url)
        self._connect_timeout_s = connect_timeout_s
        self._query_timeout_s = query_timeout_s
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._canceller = Canceller(CANCEL_POLL_S)

    # -- errors -------------------------------------------------------------

    def line(self, entity: str, what: str, detail: str) -> str:
        """The one line every error of this source says."""
        where = f'sql source "{self._source}" ({self._shown})'
        return scrub(f'{where}, entity "{entity}": {what}: {detail}', self._secrets)

    def failure(
        self, entity: str, what: str, exc: BaseException
    ) -> SourceError | SourceUnavailable:
        return classify(exc, self.dialect)(self.line(entity, what, message(exc)))

    # -- the engine ---------------------------------------------------------

    def engine(self, entity: str) -> sa.Engine:
        with self._lock:
            if self._closed:
                raise SourceError(self.line(entity, "read", "the source is closed"))
            if self._engine is None:
                self._engine = self._create(entity)
            return self._engine

    def _create(self, entity: str) -> sa.Engine:
        read_only = dialects.READ_ONLY[self.dialect]
        if self.dialect == "sqlite":
            dialects.sqlite_converters()
        options: dict[str, Any] = {
            "pool_size": POOL_SIZE,
            "max_overflow": POOL_SIZE,
            "pool_timeout": self._connect_timeout_s,
            "pool_recycle": 3600,
            "connect_args": dialects.connect_args(
                self.dialect, self._connect_timeout_s, self._query_timeout_s
            ),
        }
        if read_only.autocommit:
            options["isolation_level"] = "AUTOCOMMIT"
        try:
            return sa.create_engine(self._url, **options)
        except ImportError as exc:
            extra = EXTRAS.get(self.dialect)
            hint = f" (install syncdeck[{extra}])" if extra else ""
            raise SourceError(self.line(entity, "connect", f"{exc}{hint}")) from None
        except sa_exc.ArgumentError as exc:
            raise SourceError(self.line(entity, "connect", message(exc))) from None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            engine, self._engine = self._engine, None
        self._canceller.close()
        if engine is not None:
            engine.dispose()

    # -- one read -----------------------------------------------------------

    def _session(self, conn: sa.Connection) -> None:
        info = conn.connection.info
        if info.get("syncdeck_session"):
            return
        for statement in dialects.session_statements(self.dialect, self._query_timeout_s):
            conn.exec_driver_sql(statement)
        if self.dialect == "oracle":
            raw = conn.connection.dbapi_connection
            raw.call_timeout = round(self._query_timeout_s * 1000)  # type: ignore[union-attr]
        info["syncdeck_session"] = True

    def _rollback(self, conn: sa.Connection) -> None:
        try:
            conn.exec_driver_sql(dialects.READ_ONLY[self.dialect].rollback)
        except Exception:
            with contextlib.suppress(Exception):
                conn.invalidate()  # never back to the pool inside a transaction

    def _watch(self, conn: sa.Connection, stop: threading.Event | None) -> Callable[[], None]:
        """Cancel the running statement when `stop` is set (PostgreSQL, by the reader's one
        `Canceller` thread); returns the call that ends the watch."""
        if stop is None or self.dialect != "postgresql":
            return lambda: None
        return self._canceller.watch(stop, conn.connection.dbapi_connection)

    def read(
        self,
        entity: str,
        what: str,
        work: Callable[[sa.Connection], T],
        stop: threading.Event | None = None,
    ) -> T:
        """`work` in one read-only transaction (see the module's docstring)."""
        if stop is not None and stop.is_set():
            raise SourceInterrupted(self.line(entity, what, "stopped before it began"))
        read_only = dialects.READ_ONLY[self.dialect]
        try:
            with self.engine(entity).connect() as conn:
                self._session(conn)
                for statement in read_only.begin:
                    conn.exec_driver_sql(statement)
                end_watch = self._watch(conn, stop)
                try:
                    result = work(conn)
                    conn.exec_driver_sql(read_only.commit)
                except BaseException:
                    end_watch()
                    self._rollback(conn)
                    raise
                end_watch()
        except sa_exc.SQLAlchemyError as exc:
            if stop is not None and stop.is_set():
                raise SourceInterrupted(self.line(entity, what, "stopped")) from exc
            raise self.failure(entity, what, exc) from exc
        if stop is not None and stop.is_set():
            raise SourceInterrupted(self.line(entity, what, "stopped"))
        return result

    # -- what the source reads ----------------------------------------------

    def page(
        self,
        entity: SqlEntity,
        since: Any | None,
        last: Sequence[Any] | None,
        limit: int,
        stop: threading.Event | None,
    ) -> tuple[list[tuple[Any, ...]], bool, list[list[tuple[Any, ...]]] | None]:
        """Up to `limit` rows past `last`, whether more follow, and each row's child rows
        (read in the same transaction)."""
        select = statements.page(entity, self.dialect, since, last, limit + 1)

        def work(conn: sa.Connection) -> tuple[list[tuple[Any, ...]], bool, Any]:
            # The driver's rows as they are, fetched at once: the columns are untyped
            # (`literal_column`), so SQLAlchemy's Row objects would add nothing but their cost.
            result = conn.execute(select)
            rows = list(result.cursor.fetchall())
            result.close()
            more = len(rows) > limit
            del rows[limit:]
            kids = self._children(conn, entity, rows) if entity.child is not None else None
            return rows, more, kids

        return self.read(entity.name, "page", work, stop)

    def _children(
        self, conn: sa.Connection, entity: SqlEntity, rows: list[tuple[Any, ...]]
    ) -> list[list[tuple[Any, ...]]]:
        child = entity.child
        assert child is not None
        at = [c.name for c in entity.columns].index(entity.key[0])
        keys = [row[at] for row in rows]
        found: dict[Any, list[tuple[Any, ...]]] = {key: [] for key in keys}
        for start in range(0, len(keys), CHILD_BATCH):
            for row in conn.execute(statements.children(child, keys[start : start + CHILD_BATCH])):
                *values, parent = tuple(row)
                owned = found.get(parent)
                if owned is None:
                    raise SourceError(
                        self.line(
                            entity.name,
                            "child rows",
                            f"a child's {child.parent} = {parent!r} ({type(parent).__name__}) "
                            "matches no parent key as the driver returns them: give the "
                            "parent column and the key the same SQL type",
                        )
                    )
                owned.append(tuple(values))
        return [found[key] for key in keys]

    def count(self, entity: SqlEntity, since: Any | None, stop: threading.Event | None) -> int:
        select = statements.count(entity, since)
        return self.read(entity.name, "count", lambda c: int(c.execute(select).scalar_one()), stop)

    def probe(self, entity: SqlEntity, stop: threading.Event | None) -> Any:
        """One non-NULL cursor value, as the driver returns it; None when there is none."""
        select = statements.probe(entity, self.dialect)
        return self.read(
            entity.name, "probe the cursor", lambda c: c.execute(select).scalar(), stop
        )

    def high_water(self, entity: SqlEntity, stop: threading.Event | None) -> Any:
        """The highest cursor value of the listing, as the driver returns it; None if none."""
        select = statements.high_water(entity)
        return self.read(entity.name, "high water", lambda c: c.execute(select).scalar(), stop)

    def horizon(self, entity: SqlEntity) -> str:
        """PostgreSQL's snapshot xmin now, as decimal text."""
        query = sa.text(statements.HORIZON)
        return self.read(
            entity.name, "snapshot horizon", lambda c: str(c.execute(query).scalar_one())
        )
