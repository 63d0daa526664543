"""The demo ERP's database: opening its file and listing what it holds.

`DemoERP` opens (and on first use generates, see `core.demo.generation`) one
SQLite file and lists an entity's records in (updated_at, key) order, the
order every source pages in; its changes over time come from
`core.demo.changes.DemoChanges`. `open_demo_erp` is the one place that turns
settings into a DemoERP, so the sync engine's source and the demo server
read the same file the same way.

Thread-safe: one connection guarded by a lock, so the async source can call it
from worker threads. Listing or counting an entity the demo ERP does not have
raises `SourceError`; file and database failures are sqlite3's own
(`sqlite3.Error`, `OSError`).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.config import DemoSizes, Settings
from core.demo.changes import DemoChanges
from core.demo.generation import (
    COLUMNS,
    DEMO_FILENAME,
    KEYS,
    LINE_COLUMNS,
    discard_other_layout,
    ensure_generated,
)
from core.errors import SourceError


class DemoERP(DemoChanges):
    """The demo ERP's database: generation, change over time, and listing."""

    def __init__(
        self,
        path: Path,
        *,
        seed: int = 7,
        sizes: DemoSizes | None = None,
        changes_per_minute: float = 60.0,
        clock: Any = time.time,
    ) -> None:
        self.path = Path(path)
        self.seed = seed
        self.sizes = sizes or DemoSizes()
        self.changes_per_minute = changes_per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        discard_other_layout(self.path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA mmap_size = 268435456")  # listings read pages in place
        self._ensure()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _ensure(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                ensure_generated(self._db, self.seed, self.sizes, self._clock)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- reading ------------------------------------------------------------

    def list_page(
        self, entity: str, since: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Records ordered by (updated_at, key): updated_at >= since, strictly after `after`."""
        columns, rows = self.list_rows(entity, since, after, limit)
        # The column list is the SELECT's own: zip needs no length check here.
        records = [dict(zip(columns, row)) for row in rows]  # noqa: B905
        if entity == "products":
            for record in records:
                record["active"] = record["active"] == 1
        if entity == "orders" and records:
            with self._lock:
                self._attach_lines(records)
        return records

    def list_rows(
        self, entity: str, since: str | None, after: tuple[str, str] | None, limit: int
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """`list_page` as column names and rows of values (order lines not attached)."""
        if entity not in COLUMNS:
            raise SourceError(f"demo ERP has no entity {entity!r}")
        columns, key = COLUMNS[entity], KEYS[entity]
        where: list[str] = []
        args: list[str] = []
        if since is not None:
            where.append("updated_at >= ?")
            args.append(since)
        if after is not None:
            where.append(f"(updated_at, {key}) > (?, ?)")
            args.extend(after)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(columns)} FROM {entity} {clause} "
                f"ORDER BY updated_at, {key} LIMIT ?",
                (*args, limit),
            ).fetchall()
        return columns, rows

    def _attach_lines(self, orders: list[dict[str, Any]]) -> None:
        by_id = {o["id"]: o for o in orders}
        for o in orders:
            o["lines"] = []
        marks = ", ".join("?" for _ in by_id)
        for row in self._db.execute(
            f"SELECT order_id, {', '.join(LINE_COLUMNS)} FROM order_lines "
            f"WHERE order_id IN ({marks}) ORDER BY order_id, line_no",
            tuple(by_id),
        ):
            by_id[row[0]]["lines"].append(dict(zip(LINE_COLUMNS, row[1:], strict=True)))

    def count(self, entity: str, since: str | None = None) -> int:
        if entity not in COLUMNS:
            raise SourceError(f"demo ERP has no entity {entity!r}")
        with self._lock:
            if since is None:
                row = self._db.execute(f"SELECT COUNT(*) FROM {entity}").fetchone()
            else:
                row = self._db.execute(
                    f"SELECT COUNT(*) FROM {entity} WHERE updated_at >= ?", (since,)
                ).fetchone()
        return int(row[0])

    def iter_all(self, entity: str, page_size: int = 5000) -> Iterator[dict[str, Any]]:
        after = None
        key = KEYS[entity]
        while True:
            page = self.list_page(entity, None, after, page_size)
            yield from page
            if len(page) < page_size:
                return
            after = (page[-1]["updated_at"], page[-1][key])


def open_demo_erp(settings: Settings) -> DemoERP:
    """The demo ERP of `settings`, in its data directory (generated there on first use)."""
    demo = settings.demo
    return DemoERP(
        settings.data_dir / DEMO_FILENAME,
        seed=demo.seed,
        sizes=demo.sizes,
        changes_per_minute=demo.changes_per_minute,
    )
