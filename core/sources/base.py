"""The Source protocol: where records come from (the demo ERP, an ERP over HTTP).

A source lists an entity's records in pages ordered by (cursor, key): all of
them, or those whose cursor is >= a given value. Pages are chained by an
opaque token the source chooses, so a malformed record (no key, no cursor)
never breaks pagination. A `KeyOrderedSource` orders its full listing by key
alone, and says how far such a pass's cursor may go.

A listing that is not in cursor order (a REST API that does not say it sorts, or
PostgreSQL's xmin horizon) says so on its first page with a `CursorHold`: the engine
then commits each page's rows without moving the cursor, and moves it once, when the
listing completes, so a listing cut short re-reads everything it did not finish.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple, Protocol, runtime_checkable


class CursorHold(NamedTuple):
    """How a listing not in cursor order leaves the cursor when it completes."""

    cap: Any = None
    """The highest cursor it may leave, raw as a page gives a cursor (a REST API's server
    time when the listing began): a row that changed after that is read again. None: the
    highest cursor the listing read."""
    horizon: str | None = None
    """Where the next incremental listing starts instead of the cursor (PostgreSQL's
    snapshot xmin taken before this listing), kept beside the cursor."""


class Page:
    """One page of a listing, as records (dicts), or as rows of column values.

    A source that has rows at hand (the demo ERP) may give `columns` and `rows`: the
    sync engine validates the tuples as they are, and `records` builds dicts only for
    whoever asks for them (an HTTP response).
    """

    def __init__(
        self,
        records: list[dict[str, Any]] | None = None,
        next: str | None = None,
        *,
        columns: tuple[str, ...] | None = None,
        rows: list[tuple[Any, ...]] | None = None,
        children: list[list[tuple[Any, ...]]] | None = None,
        hold: CursorHold | None = None,
    ) -> None:
        self.next = next
        """Token for the following page; None when this was the last."""
        self.columns = columns
        self.rows = rows
        self.children = children
        """With `rows`, for an entity with a child table: each row's child rows, read in
        the same snapshot as the page."""
        self.hold = hold
        """On a listing's first page only: the listing is not in cursor order."""
        self._records = records

    @property
    def records(self) -> list[dict[str, Any]]:
        if self._records is None:
            columns, rows = self.columns or (), self.rows or []
            self._records = [dict(zip(columns, row, strict=True)) for row in rows]
        return self._records

    def __len__(self) -> int:
        return (
            len(self.rows) if self._records is None and self.rows is not None else len(self.records)
        )


class Source(Protocol):
    async def page(self, entity: str, since: str | None, token: str | None, limit: int) -> Page:
        """Up to `limit` raw records of `entity` ordered by (cursor, key), with cursor >= `since`
        (all records if None), continuing after `token` (from the start if None)."""
        ...

    async def estimate(self, entity: str, since: str | None) -> int | None:
        """Roughly how many records `page` would list, for progress; None if unknown."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class BlockingSource(Source, Protocol):
    """A source that can also be read from a worker thread (the embedded demo ERP).

    The engine then reads and writes in that one thread, with no hand-off to the event
    loop per page: cheaper for a local source, and the loop stays free.
    """

    def page_blocking(
        self, entity: str, since: str | None, token: str | None, limit: int, stop: threading.Event
    ) -> Page:
        """`page`, run in a worker thread; waits (latency, a hang) end early when `stop` is set,
        raising SourceInterrupted."""
        ...


@runtime_checkable
class KeyOrderedSource(Source, Protocol):
    """A source whose full listing is ordered by key alone (the SQL source: each row is
    listed once however its cursor moves during the pass), each page read on its own.
    A row such a pass has read may change before the pass ends while rows further on
    change later, so the highest cursor it reads covers no change made during it. The
    engine keeps a full pass's cursor at or below `high_water`, read before the pass."""

    async def high_water(self, entity: str) -> Any:
        """The highest cursor value the entity's rows hold now, raw as a page gives it;
        None when no row has one."""
        ...


@runtime_checkable
class ShiftingSource(Source, Protocol):
    """A source whose listing may skip a live row while rows change: pages by position
    (offset, page number), where a row deleted before the current page shifts every later
    row back by one. A row absent from one complete full pass is then only a delete
    candidate: it is deleted when the next complete full pass misses it too, or when the
    source says it is gone."""

    def listing_may_skip(self, entity: str) -> bool:
        """Whether `entity`'s listing pages by position."""
        ...

    async def item_gone(self, entity: str, key: tuple[str, ...]) -> bool | None:
        """Whether the record with this key (its key columns' values, as text) is gone
        (its own URL answers 404): True, False, or None when the source cannot tell."""
        ...
