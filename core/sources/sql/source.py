"""A relational database as a `BlockingSource` (source.kind = "sql"): the ERP's own
PostgreSQL, MySQL/MariaDB, SQLite, SQL Server or Oracle database, read with SQLAlchemy
Core, which is imported when a `SqlSource` is built, never before (importing this module
does not).

What it lists, per entity (`core.sources.sql.mapping`): the rows of a table or of an
operator's query, with their child rows read in the same transaction. Each row is a tuple
of the driver's raw values in `entity.columns` order (Decimal, naive or aware datetime,
date, int, str, dict for PostgreSQL JSON; see `dialects.sqlite_converters` for SQLite's
decimals).

- A full pass is ordered by the key (a `KeyOrderedSource`: `high_water` bounds the
  cursor it leaves).
- An incremental pass is ordered by (cursor, key), from the `since` bound that
  `core.sources.sql.bounds` computes in the source's terms (naive timestamps are wall
  times in `zone`: the autumn's repeated hour is covered).
- On PostgreSQL's `xmin` horizon, it starts instead from a transaction horizon taken by
  `snapshot_horizon` before the previous listing began: each listing's first page
  carries the horizon taken before it (a `CursorHold`), which the engine keeps once
  the listing completes. That needs PostgreSQL 13 or
  later and a full scan of the table per run, as no index holds xmin; a `query` entity
  must output its table's `xmin` as a column named `xmin`.

Pages are chained by keyset (`core.sources.sql.statements`); a page token names the
previous page's last row, kept in this instance's memory. Every read is one short
read-only transaction that neither blocks nor changes the ERP
(`core.sources.sql.dialects`).

Failures:
- `SourceError` (permanent) for a mapping this source cannot read (at construction: no
  key or cursor among the columns, children under a composite key, xmin outside
  PostgreSQL, an unknown URL scheme or zone). Also for a `since` of the wrong kind, a
  page token this instance did not give, and what the database refuses for good
  (permission, unknown table or column, a bad query).
- `SourceUnavailable` (transient) for what may pass (no connection, a timeout, a
  deadlock, a lock wait).
- `SourceInterrupted` when `stop` is set during a read.

Every message is one line naming the source, its URL without password and
the entity, then the database's own words.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import SourceError, SourceInterrupted, SourceUnavailable
from core.sources.base import CursorHold, Page
from core.sources.sql.bounds import Shape, shape_of, source_bound
from core.sources.sql.check import SqlCheck
from core.sources.sql.mapping import SqlChild, SqlEntity
from core.sources.sql.urls import Dialect, database_url, redact

if TYPE_CHECKING:
    from core.sources.sql.reader import Reader

TOKENS_KEPT = 64
"""Page tokens remembered per source: the engine only ever continues from the last one."""


class _Place(NamedTuple):
    """Where a listing stopped: what it was (entity, since) and its last row's order
    values (cursor and key, or key)."""

    entity: str
    since: str | None
    last: tuple[Any, ...]


def _mapping_problem(entity: SqlEntity, dialect: Dialect) -> str | None:
    names = [c.name for c in entity.columns]
    if (entity.table is None) == (entity.query is None):
        return "give exactly one of table and query"
    if not names:
        return "no columns"
    if not entity.key:
        return "no key"
    unknown = [n for n in (*entity.key, entity.cursor) if n not in names]
    if unknown:
        return f"{', '.join(unknown)} not among its columns"
    if entity.horizon == "xmin" and dialect != "postgresql":
        return f"the xmin horizon is PostgreSQL's, and this database is {dialect}"
    if entity.child is not None:
        return _child_problem(entity.child, len(entity.key))
    return None


def _child_problem(child: SqlChild, parent_keys: int) -> str | None:
    if parent_keys != 1:
        return "a parent with a composite key cannot have children"
    if (child.table is None) == (child.query is None):
        return "its child: give exactly one of table and query"
    names = [c.name for c in child.columns]
    if not child.key or any(k not in names for k in child.key):
        return "its child's key must be among the child's columns"
    return None


class SqlSource:
    """Reads one database. Built per run; `close()` releases its connections."""

    def __init__(
        self,
        url: str,
        entities: Mapping[str, SqlEntity],
        *,
        zone: str = "UTC",
        source_name: str,
        connect_timeout_s: float = 10,
        query_timeout_s: float = 300,
    ) -> None:
        dialect, driver_url = database_url(url)
        where = f'sql source "{source_name}" ({redact(url)})'
        try:
            self.zone = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SourceError(f"{where}: zone {zone!r} is not a time zone ({exc})") from None
        if connect_timeout_s <= 0 or query_timeout_s <= 0:
            raise SourceError(f"{where}: timeouts must be > 0")
        for name, entity in entities.items():
            problem = _mapping_problem(entity, dialect)
            if problem is not None:
                raise SourceError(f'{where}, entity "{name}": {problem}')
        from core.sources.sql.reader import Reader  # SQLAlchemy: only now

        self.dialect = dialect
        self.source_name = source_name
        self.entities = dict(entities)
        self._reader: Reader = Reader(
            driver_url,
            dialect,
            source_name=source_name,
            shown_url=url,
            connect_timeout_s=connect_timeout_s,
            query_timeout_s=query_timeout_s,
        )
        self._shapes: dict[str, Shape] = {}
        self._places: OrderedDict[str, _Place] = OrderedDict()
        self._lock = threading.Lock()
        self._prefix = os.urandom(6).hex()
        self._numbers = itertools.count(1)

    # -- the Source protocol ------------------------------------------------

    async def page(self, entity: str, since: str | None, token: str | None, limit: int) -> Page:
        stop = threading.Event()
        try:
            return await asyncio.to_thread(self.page_blocking, entity, since, token, limit, stop)
        finally:
            stop.set()  # a cancelled caller: the read stops (PostgreSQL: at once)

    async def estimate(self, entity: str, since: str | None) -> int | None:
        stop = threading.Event()
        try:
            return await asyncio.to_thread(self.estimate_blocking, entity, since, stop)
        finally:
            stop.set()

    async def high_water(self, entity: str) -> Any:
        """The highest cursor value now (`KeyOrderedSource`: a full pass is ordered by key)."""
        stop = threading.Event()
        try:
            spec = self._entity(entity)
            return await asyncio.to_thread(self._reader.high_water, spec, stop)
        finally:
            stop.set()

    async def close(self) -> None:
        await asyncio.to_thread(self._reader.close)

    def page_blocking(
        self, entity: str, since: str | None, token: str | None, limit: int, stop: threading.Event
    ) -> Page:
        spec = self._entity(entity)
        last = self._place(spec, since, token)
        bound = None if since is None else self._bound(spec, since, stop)
        hold = None
        if token is None and spec.horizon == "xmin":  # before the read: nothing slips past
            hold = CursorHold(horizon=self._reader.horizon(spec))
        rows, more, children = self._reader.page(spec, bound, last, max(1, limit), stop)
        next_token = None
        if more and rows:
            next_token = self._remember(spec, since, rows[-1])
        return Page(
            columns=tuple(c.name for c in spec.columns),
            rows=rows,
            children=children,
            next=next_token,
            hold=hold,
        )

    def estimate_blocking(
        self, entity: str, since: str | None, stop: threading.Event | None = None
    ) -> int | None:
        """A COUNT of the listing, in a read-only transaction; None if anything fails."""
        try:
            spec = self._entity(entity)
            bound = None if since is None else self._bound(spec, since, stop)
            return self._reader.count(spec, bound, stop)
        except (SourceError, SourceUnavailable, SourceInterrupted):
            return None

    # -- beyond the protocol ------------------------------------------------

    def snapshot_horizon(self, entity: str) -> str:
        """PostgreSQL's `pg_snapshot_xmin(pg_current_snapshot())`, as decimal text: call it
        before a listing starts and hand it to the next incremental listing as `since`
        (the `xmin` horizon). SourceError on other databases."""
        spec = self._entity(entity)
        if self.dialect != "postgresql":
            raise SourceError(
                self._reader.line(entity, "snapshot horizon", "xmin is PostgreSQL's only")
            )
        return self._reader.horizon(spec)

    def check(self, entity: str) -> SqlCheck:
        """What the database says about the entity's mapping (see `SqlCheck`); database
        failures are its `problems`, never raised."""
        from core.sources.sql.checks import run_check

        return run_check(self._reader, self._entity(entity), self.zone.key, self.source_name)

    # -- plumbing -----------------------------------------------------------

    def _entity(self, entity: str) -> SqlEntity:
        spec = self.entities.get(entity)
        if spec is None:
            raise SourceError(self._reader.line(entity, "read", "no such entity in this source"))
        return spec

    def _bound(self, spec: SqlEntity, since: str, stop: threading.Event | None) -> Any:
        """`since` in the source's terms (`core.sources.sql.bounds`), the cursor's shape
        probed once per entity (not remembered while the relation has no cursor value)."""
        if spec.horizon == "xmin":
            if not since.strip().isdigit():
                detail = f"since {since!r} is not a transaction horizon (decimal digits)"
                raise SourceError(self._reader.line(spec.name, "since", detail))
            return int(since)
        shape = self._shapes.get(spec.name)
        if shape is None and spec.cursor_kind in ("timestamp", "date"):
            value = self._reader.probe(spec, stop)
            shape = Shape("naive") if value is None else shape_of(value)
            if value is not None:
                self._shapes[spec.name] = shape
        if shape is None:  # no cursor value yet: any bound finds nothing, or new rows
            shape = Shape("text") if self.dialect == "sqlite" else Shape("naive")
        try:
            return source_bound(since, spec.cursor_kind, shape, self.zone)
        except ValueError as exc:
            detail = f"since {since!r} is not a {spec.cursor_kind} cursor value: {exc}"
            raise SourceError(self._reader.line(spec.name, "since", detail)) from None

    def _place(
        self, spec: SqlEntity, since: str | None, token: str | None
    ) -> tuple[Any, ...] | None:
        if token is None:
            return None
        with self._lock:
            place = self._places.get(token)
        if place is None or place.entity != spec.name or place.since != since:
            detail = f"page token {token[:40]!r} was not given by this source for this listing"
            raise SourceError(self._reader.line(spec.name, "page", detail))
        return place.last

    def _remember(self, spec: SqlEntity, since: str | None, row: tuple[Any, ...]) -> str:
        names = [c.name for c in spec.columns]
        order = [spec.cursor, *spec.key] if since is not None else list(spec.key)
        last = tuple(row[names.index(name)] for name in order)
        with self._lock:
            token = f"{self._prefix}-{next(self._numbers)}"
            self._places[token] = _Place(spec.name, since, last)
            while len(self._places) > TOKENS_KEPT:
                self._places.popitem(last=False)
        return token
