"""PostgresStore: the store on a PostgreSQL server that processes on several hosts share.

Every mutation is one write transaction running one rule from
`core.store.rules` over a `PostgresTx`; no rule is copied here. The guarantees
of `core.store.base.Store` hold as follows:

- **Atomic transitions**: one transaction per mutation, its events included.
- **Uniqueness**: the partial unique indexes `requests_one_queued_per_service`
  and `requests_one_running` (see `schema`).
- **One clock**: the database server's (`clock_timestamp()` read once per
  write transaction, after its lock). `clock`, when given, replaces it (a test
  or a simulation that moves time by hand).
- **Event order**: every write transaction takes the schema's write lock
  (`pg_advisory_xact_lock`) first and holds it until it commits, so appends are
  serialized and ids commit in order (see `connection`).
- **Fencing**: `start_run`, `finish_run`, `record_progress` and `publish_plan` check
  the epoch on the lease row, which every write transaction reads once it holds the
  write lock (so no other writer can change it before this one commits).

`wait_for_change` is LISTEN/NOTIFY with polling underneath (see `changes`).
`maintenance` does nothing: autovacuum looks after the tables.

Raises: what `Store` names; `StoreError` for every server or connection failure,
its message naming the database without its password.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from core.errors import StoreError
from core.store.base import RunStats, StoreView
from core.store.postgres import reads
from core.store.postgres.changes import Changes
from core.store.postgres.connection import Begun, PostgresConnection, Timeouts
from core.store.postgres.pipeline import PipelineConn
from core.store.postgres.rows import POSTGRES
from core.store.postgres.tx import PostgresTx
from core.store.sql.columns import Fetch
from core.store.sql.rule_store import RuleStore

T = TypeVar("T")

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
"""Lower-case identifiers that need no quoting, short enough for the channel's name."""


def _apply(conn: PipelineConn, begun: Begun, rule: Callable[..., T], *args: Any) -> T:
    tx = PostgresTx(conn, begun)
    result = rule(tx, begun.now, *args)
    tx.end()
    return result


class PostgresStore(RuleStore):
    """Store in one schema of a PostgreSQL database shared by every process on every host
    (`after_write_begin`: a test's hook, see `core.store.postgres.connection`)."""

    dialect = POSTGRES

    def __init__(
        self,
        url: str,
        *,
        schema: str = "syncdeck",
        password_file: Path | None = None,
        clock: Callable[[], float] | None = None,
        poll_interval: float = 0.5,
        timeouts: Timeouts | None = None,
        pool_size: int = 4,
        after_write_begin: Callable[[], None] | None = None,
    ) -> None:
        if not SCHEMA_NAME.match(schema):
            raise StoreError(f"store schema {schema!r}: use a-z, 0-9 and _ (at most 48)")
        self._conn = PostgresConnection(
            url,
            schema,
            password_file=password_file,
            clock=clock,
            timeouts=timeouts or Timeouts(),
            pool_size=pool_size,
            after_write_begin=after_write_begin,
        )
        self._poll_interval = poll_interval
        self._changes: Changes | None = None

    @property
    def where(self) -> str:
        """The database and schema, for messages (no password)."""
        return f"{self._conn.where} schema {self._conn.schema}"

    async def _write(self, rule: Callable[..., T], *args: Any) -> T:
        return await self._write_fn(_apply, rule, *args)

    async def _query(self, query: Callable[[Fetch], T]) -> T:
        return await self._conn.call(lambda conn: query(reads.fetcher(conn)))

    async def run_stats(
        self, duration_buckets: tuple[float, ...], wait_buckets: tuple[float, ...]
    ) -> RunStats:
        return await self._conn.call(reads.run_stats, duration_buckets, wait_buckets)

    async def _write_fn(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._conn.write(fn, *args)

    # -- lifecycle ----------------------------------------------------------------

    async def open(self) -> None:
        await self._conn.open()
        changes = Changes(
            self._conn.url,
            self._conn.kwargs("listener"),
            self._conn.channel,
            self._conn.change_seq,
            self._poll_interval,
        )
        try:
            await changes.start()
        except BaseException:
            await self._conn.close()
            raise
        self._changes = changes
        self._conn.committed = changes.wrote

    async def close(self) -> None:
        changes, self._changes = self._changes, None
        self._conn.committed = None
        if changes is not None:
            await changes.stop()
        await self._conn.close()

    async def maintenance(self) -> None:
        if not self._conn.is_open:
            raise StoreError("store is not open")

    async def now(self) -> datetime:
        return await self._conn.now()

    async def wait_for_change(self, timeout: float) -> bool:
        if self._changes is None:
            raise StoreError("store is not open")
        return await self._changes.wait(timeout)

    async def view(self, history: bool = True) -> StoreView:
        return await self._conn.call(reads.view, self._conn.clock, history)

    async def prune_events(self, keep: int) -> int:
        def prune(conn: PipelineConn, begun: Begun) -> int:
            # Counted in SQL: in the write transaction's pipeline, a rowcount comes late.
            if keep <= 0:
                gone = conn.execute(
                    "WITH gone AS (DELETE FROM events RETURNING 1) SELECT count(*) FROM gone"
                ).fetchone()
            else:  # by rows, not by ids: ids may have gaps
                gone = conn.execute(
                    "WITH gone AS (DELETE FROM events WHERE id < (SELECT id FROM events "
                    "ORDER BY id DESC LIMIT 1 OFFSET %s) RETURNING 1) SELECT count(*) FROM gone",
                    (max(0, keep - 1),),
                ).fetchone()
            return 0 if gone is None else int(gone[0])

        return await self._write_fn(prune)
