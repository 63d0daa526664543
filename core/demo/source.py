"""The demo ERP as a `Source` and a `BlockingSource` (source.kind = "demo").

Pages are chained by a token of the source's own: JSON `[cursor, key, served,
pages]`, the (updated_at, key) of the last record served, how many records and
pages the listing has served so far (the truncation and hang faults count them).
The first page of a listing (no token) first lets the ERP `advance()`, so each
sync sees the changes a live ERP would have made since the last one.

The `DemoFaults` given are applied to every page (see `core.demo.faults`):
SourceUnavailable for a simulated 503, and a hang that only a timeout, a cancel
or (in a worker thread) the `stop` event ends. SourceInterrupted is raised when
`stop` ends a wait; a listing of an unknown entity raises SourceError.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading

from core.config import DemoFaults
from core.demo.erp import DemoERP
from core.demo.faults import before_page, before_page_blocking, full_cap, spoil
from core.demo.generation import KEYS
from core.sources.base import Page


def is_page_token(text: str) -> bool:
    """Whether `text` has the form of a token this source issues (the server checks this)."""
    try:
        value = json.loads(text)
    except ValueError:
        return False
    if not isinstance(value, list) or len(value) != 4:
        return False
    cursor, key, served, pages = value
    counts_ok = all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (served, pages)
    )
    return isinstance(cursor, str) and isinstance(key, str) and counts_ok


def _next_token(cursor: str, key: str, served: int, pages: int) -> str:
    return json.dumps([cursor, key, served, pages])


class DemoSource:
    """The demo ERP as a `Source`, with its fault knobs applied."""

    def __init__(self, erp: DemoERP, faults: DemoFaults | None = None, draw: int = 0) -> None:
        """`draw` numbers the sources made from one ERP (one per run): each draws its own
        faults, so an `error_rate` of 0.5 fails about half the runs, and the n-th run draws
        the same for the same seed."""
        self.erp = erp
        self.faults = faults or DemoFaults()
        self._rng = random.Random(f"{erp.seed}:{draw}")

    async def page(self, entity: str, since: str | None, token: str | None, limit: int) -> Page:
        pages = 0 if token is None else json.loads(token)[3]
        await before_page(self.faults, self._rng, pages)
        return await asyncio.to_thread(self._serve, entity, since, token, limit)

    def page_blocking(
        self, entity: str, since: str | None, token: str | None, limit: int, stop: threading.Event
    ) -> Page:
        """`page` for a worker thread: the faults wait on `stop` instead of the event loop."""
        pages = 0 if token is None else json.loads(token)[3]
        before_page_blocking(self.faults, self._rng, pages, stop)
        return self._serve(entity, since, token, limit, rows=True)

    def _serve(
        self, entity: str, since: str | None, token: str | None, limit: int, rows: bool = False
    ) -> Page:
        faults = self.faults
        if token is None:
            self.erp.advance()
            after, served, pages = None, 0, 0
        else:
            cursor, key, served, pages = json.loads(token)
            after = (cursor, key)
        if rows and entity != "orders" and not faults.malformed_rate:
            return self._serve_rows(entity, since, after, limit, served, pages)
        records = self.erp.list_page(entity, since, after, limit)
        cap = full_cap(faults, since, lambda: self.erp.count(entity))
        if cap is not None:
            records = records[: max(0, cap - served)]
        next_token = None
        if len(records) == limit and (cap is None or served + len(records) < cap):
            last = records[-1]
            next_token = _next_token(
                last["updated_at"], last[KEYS[entity]], served + len(records), pages + 1
            )
        if faults.malformed_rate:
            records = spoil(records, entity, self.erp.seed, faults.malformed_rate)
        return Page(records, next_token)

    def _serve_rows(
        self,
        entity: str,
        since: str | None,
        after: tuple[str, str] | None,
        limit: int,
        served: int,
        pages: int,
    ) -> Page:
        """A page as rows (no dicts built): the form the sync engine validates fastest."""
        columns, rows = self.erp.list_rows(entity, since, after, limit)
        cap = full_cap(self.faults, since, lambda: self.erp.count(entity))
        if cap is not None:
            rows = rows[: max(0, cap - served)]
        next_token = None
        if len(rows) == limit and (cap is None or served + len(rows) < cap):
            last = dict(zip(columns, rows[-1], strict=True))
            next_token = _next_token(
                last["updated_at"], last[KEYS[entity]], served + len(rows), pages + 1
            )
        return Page(next=next_token, columns=columns, rows=rows)

    async def estimate(self, entity: str, since: str | None) -> int | None:
        return await asyncio.to_thread(self.erp.count, entity, since)

    async def close(self) -> None:
        return None
