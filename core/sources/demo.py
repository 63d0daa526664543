"""The embedded demo ERP: a deterministic, living ERP in its own SQLite file.

It is generated from a seed (same seed, same data), persists in the data
directory between runs, and changes over time like a live ERP: inserts,
updates and deletes at a configurable rate, stamped with whole-second
timestamps so that many records share one cursor value. Fault knobs (errors,
latency, a hang, malformed records, a truncated full listing) let operators
and tests see every failure path without a real ERP.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from core.config import DemoFaults, DemoSizes
from core.errors import SourceError, SourceInterrupted, SourceUnavailable
from core.sources.base import Page

DEMO_FILENAME = "demo-erp.db"
BASE_EPOCH = 1767225600  # 2026-01-01T00:00:00Z: initial data is timestamped from here
ROWS_PER_SECOND = 20
"""Initial records share timestamps in groups of this size."""

KEYS = {"customers": "id", "products": "sku", "prices": "id", "orders": "id"}
COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("id", "name", "email", "country", "credit_limit", "updated_at"),
    "products": ("sku", "name", "category", "unit", "active", "weight_kg", "updated_at"),
    "prices": ("id", "sku", "currency", "amount", "valid_from", "updated_at"),
    "orders": ("id", "customer_id", "status", "currency", "total", "ordered_at", "updated_at"),
}
LINE_COLUMNS = ("line_no", "sku", "quantity", "unit_price")
COUNTRIES = ["DE", "FR", "NL", "BE", "AT", "CH", "IT", "ES", "PL", "SE", "GB", "US"]
CATEGORIES = ["tools", "garden", "kitchen", "office", "toys", "sports", "auto", "bath"]
STATUSES = ["open", "confirmed", "shipped", "invoiced", "cancelled"]
CURRENCIES = ["EUR", "USD", "GBP", "CHF"]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


KEY_FORMATS = {
    "customers": "C{:07d}",
    "products": "P{:08d}",
    "prices": "P{:08d}:",
    "orders": "O{:08d}",
}
LAYOUT = "3"
"""Version of the demo ERP's file layout; a file of another layout is generated anew."""


def _schema() -> list[str]:
    """Tables clustered by (updated_at, key), as an ERP's change log would be: a listing in
    cursor order is a sequential read, so the demo ERP costs little beside the sync it feeds."""
    statements = []
    for entity, columns in COLUMNS.items():
        key = KEYS[entity]
        # The key columns lead: SQLite 3.40's integrity check misreports NULLs in a
        # WITHOUT ROWID table whose primary key columns are not the leftmost.
        rest = [c for c in columns if c not in ("updated_at", key)]
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {entity} (updated_at, {key}, {', '.join(rest)}, "
            f"PRIMARY KEY (updated_at, {key})) WITHOUT ROWID"
        )
        statements.append(f"CREATE UNIQUE INDEX IF NOT EXISTS {entity}_key ON {entity}({key})")
    statements.append(
        "CREATE TABLE IF NOT EXISTS order_lines (order_id, line_no, sku, quantity, unit_price, "
        "PRIMARY KEY (order_id, line_no)) WITHOUT ROWID"
    )
    statements.append("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
    return statements


def _discard_other_layout(path: Path) -> None:
    """A demo ERP file from an older layout is regenerated: it holds only generated data."""
    if not path.exists():
        return
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'layout'").fetchone()
    except sqlite3.OperationalError:
        row = None
    finally:
        db.close()
    if row is None or row[0] != LAYOUT:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


class DemoERP:
    """The demo ERP's database: generation, change over time, and listing.

    Thread-safe: one connection guarded by a lock, so the async source can call
    it from worker threads.
    """

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
        _discard_other_layout(self.path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA mmap_size = 268435456")  # listings read pages in place
        self._ensure()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- generation ---------------------------------------------------------

    def _ensure(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _schema():
                    self._db.execute(statement)
                generated = self._db.execute(
                    "SELECT value FROM meta WHERE key = 'generated'"
                ).fetchone()
                if generated is None:
                    self._generate()
                    self._set_meta("generated", json.dumps(msgspec.structs.asdict(self.sizes)))
                    self._set_meta("layout", LAYOUT)
                    self._set_meta("seed", str(self.seed))
                    self._set_meta("last_tick", str(self._clock()))
                    self._set_meta("ticks", "0")
                    self._set_meta("next_id", "0")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _meta(self, key: str, default: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def _generate(self) -> None:
        rng = random.Random(self.seed)
        sizes = self.sizes

        def stamp(i: int) -> str:
            return iso(BASE_EPOCH + i // ROWS_PER_SECOND)

        self._db.executemany(
            f"INSERT INTO customers ({', '.join(COLUMNS['customers'])}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                (
                    f"C{i:07d}",
                    f"Customer {i}",
                    f"buyer{i}@example.com",
                    rng.choice(COUNTRIES),
                    float(rng.randrange(0, 100_000, 500)),
                    stamp(i),
                )
                for i in range(sizes.customers)
            ),
        )
        self._db.executemany(
            f"INSERT INTO products ({', '.join(COLUMNS['products'])}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    f"P{i:08d}",
                    f"Product {i}",
                    rng.choice(CATEGORIES),
                    "pc",
                    1,
                    round(rng.uniform(0.05, 40.0), 3),
                    stamp(i),
                )
                for i in range(sizes.products)
            ),
        )
        n_products = max(1, sizes.products)
        self._db.executemany(
            f"INSERT INTO prices ({', '.join(COLUMNS['prices'])}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                (
                    f"P{i % n_products:08d}:{CURRENCIES[i // n_products % len(CURRENCIES)]}"
                    + ("" if i < n_products * len(CURRENCIES) else f":{i}"),
                    f"P{i % n_products:08d}",
                    CURRENCIES[i // n_products % len(CURRENCIES)],
                    round(rng.uniform(0.5, 900.0), 2),
                    "2026-01-01",
                    stamp(i),
                )
                for i in range(sizes.prices)
            ),
        )
        n_customers = max(1, sizes.customers)
        for start in range(0, sizes.orders, 10_000):
            orders, lines = [], []
            for i in range(start, min(sizes.orders, start + 10_000)):
                order_id = f"O{i:08d}"
                n_lines = rng.randint(1, 4)
                total = 0.0
                for line_no in range(1, n_lines + 1):
                    qty = rng.randint(1, 20)
                    price = round(rng.uniform(1.0, 200.0), 2)
                    total += qty * price
                    lines.append(
                        (order_id, line_no, f"P{rng.randrange(n_products):08d}", qty, price)
                    )
                orders.append(
                    (
                        order_id,
                        f"C{rng.randrange(n_customers):07d}",
                        rng.choice(STATUSES),
                        "EUR",
                        round(total, 2),
                        stamp(i),
                        stamp(i),
                    )
                )
            self._db.executemany(
                f"INSERT INTO orders ({', '.join(COLUMNS['orders'])}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                orders,
            )
            self._db.executemany("INSERT INTO order_lines VALUES (?, ?, ?, ?, ?)", lines)

    # -- change over time ---------------------------------------------------

    def advance(self) -> int:
        """Apply the changes a live ERP would have made since the last call; return how many."""
        if self.changes_per_minute <= 0:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                now = self._clock()
                last = float(self._meta("last_tick", str(now)))
                due = int((now - last) * self.changes_per_minute / 60)
                if due <= 0:
                    self._db.execute("COMMIT")
                    return 0
                due = min(due, 10_000)
                ticks = int(self._meta("ticks", "0"))
                rng = random.Random(f"{self.seed}:{ticks}")
                applied = self._mutate_locked(rng, due, iso(now))
                self._set_meta("last_tick", str(now))
                self._set_meta("ticks", str(ticks + 1))
                self._db.execute("COMMIT")
                return applied
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def mutate(self, count: int, seed: int | str = 0, at: float | None = None) -> int:
        """Apply `count` random inserts, updates and deletes, all stamped `at` (default now)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                applied = self._mutate_locked(
                    random.Random(f"{self.seed}:m:{seed}"), count, iso(at or self._clock())
                )
                self._db.execute("COMMIT")
                return applied
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _mutate_locked(self, rng: random.Random, count: int, stamp: str) -> int:
        applied = 0
        for _ in range(count):
            entity = rng.choice(list(COLUMNS))
            roll = rng.random()
            key = self._random_key(rng, entity)
            if roll < 0.2 or key is None:
                self._insert_new(rng, entity, stamp)
            elif roll < 0.3:
                self._delete_locked(entity, [key])
            else:
                self._touch(rng, entity, key, stamp)
            applied += 1
        return applied

    def _random_key(self, rng: random.Random, entity: str) -> str | None:
        """An existing key near a random probe of the generated key space."""
        key = KEYS[entity]
        size = max(1, getattr(self.sizes, entity))
        probe = KEY_FORMATS[entity].format(rng.randrange(size))
        row = (
            self._db.execute(
                f"SELECT {key} FROM {entity} WHERE {key} >= ? ORDER BY {key} LIMIT 1", (probe,)
            ).fetchone()
            or self._db.execute(f"SELECT {key} FROM {entity} ORDER BY {key} LIMIT 1").fetchone()
        )
        return None if row is None else str(row[0])

    def _next_id(self) -> int:
        value = int(self._meta("next_id", "0"))
        self._set_meta("next_id", str(value + 1))
        return value

    def _insert_new(self, rng: random.Random, entity: str, stamp: str) -> None:
        n = self._next_id()
        if entity == "customers":
            row: tuple[Any, ...] = (
                f"CN{n:07d}",
                f"New customer {n}",
                f"new{n}@example.com",
                rng.choice(COUNTRIES),
                1000.0,
                stamp,
            )
        elif entity == "products":
            row = (f"PN{n:08d}", f"New product {n}", rng.choice(CATEGORIES), "pc", 1, 1.0, stamp)
        elif entity == "prices":
            row = (
                f"PN{n:08d}:EUR",
                f"PN{n:08d}",
                "EUR",
                round(rng.uniform(1, 99), 2),
                "2026-06-01",
                stamp,
            )
        else:
            row = (f"ON{n:08d}", "C0000000", "open", "EUR", 10.0, stamp, stamp)
            self._db.execute(
                "INSERT INTO order_lines VALUES (?, 1, 'P00000000', 1, 10.0)", (row[0],)
            )
        marks = ", ".join("?" for _ in row)
        self._db.execute(
            f"INSERT OR REPLACE INTO {entity} ({', '.join(COLUMNS[entity])}) VALUES ({marks})", row
        )

    def _touch(self, rng: random.Random, entity: str, key: str, stamp: str) -> None:
        k = KEYS[entity]
        args: list[object]
        if entity == "customers":
            sql, args = "credit_limit = ?", [float(rng.randrange(0, 100_000, 500))]
        elif entity == "products":
            sql, args = (
                "weight_kg = ?, active = ?",
                [round(rng.uniform(0.05, 40), 3), rng.randint(0, 1)],
            )
        elif entity == "prices":
            sql, args = "amount = ?", [round(rng.uniform(0.5, 900.0), 2)]
        else:
            sql, args = "status = ?", [rng.choice(STATUSES)]
            self._db.execute(
                "UPDATE order_lines SET quantity = quantity + 1 WHERE order_id = ? AND line_no = 1",
                (key,),
            )
        self._db.execute(
            f"UPDATE {entity} SET {sql}, updated_at = ? WHERE {k} = ?", (*args, stamp, key)
        )

    # -- direct edits (tests, tools) ---------------------------------------

    def upsert(self, entity: str, records: list[dict[str, Any]]) -> None:
        """Write records as given (orders may carry `lines`)."""
        columns = COLUMNS[entity]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for record in records:
                    self._db.execute(
                        f"INSERT OR REPLACE INTO {entity} ({', '.join(columns)}) "
                        f"VALUES ({', '.join('?' for _ in columns)})",
                        tuple(record.get(c) for c in columns),
                    )
                    if entity == "orders" and "lines" in record:
                        self._db.execute(
                            "DELETE FROM order_lines WHERE order_id = ?", (record["id"],)
                        )
                        self._db.executemany(
                            "INSERT INTO order_lines VALUES (?, ?, ?, ?, ?)",
                            [
                                (record["id"], *(line[c] for c in LINE_COLUMNS))
                                for line in record["lines"]
                            ],
                        )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def delete(self, entity: str, keys: list[str]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._delete_locked(entity, keys)
            self._db.execute("COMMIT")

    def _delete_locked(self, entity: str, keys: list[str]) -> None:
        k = KEYS[entity]
        self._db.executemany(f"DELETE FROM {entity} WHERE {k} = ?", [(key,) for key in keys])
        if entity == "orders":
            self._db.executemany(
                "DELETE FROM order_lines WHERE order_id = ?", [(key,) for key in keys]
            )

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


def corrupt(record: dict[str, Any], entity: str, seed: int) -> dict[str, Any]:
    """A deterministic kind of breakage for a record chosen as malformed."""
    key = str(record.get(KEYS[entity]))
    kind = zlib.crc32(f"{seed}:{key}".encode()) % 3
    broken = dict(record)
    if kind == 0:
        broken.pop(KEYS[entity], None)
    elif kind == 1:
        numeric = {"customers": "credit_limit", "products": "weight_kg", "prices": "amount"}
        broken[numeric.get(entity, "total")] = "not-a-number"
    else:
        numeric = {"customers": "credit_limit", "products": "weight_kg", "prices": "amount"}
        broken[numeric.get(entity, "total")] = -1e15
    return broken


def is_malformed(record: dict[str, Any], entity: str, seed: int, rate: float) -> bool:
    if rate <= 0:
        return False
    key = str(record.get(KEYS[entity]))
    return (zlib.crc32(f"m:{seed}:{key}".encode()) % 10_000) / 10_000 < rate


class DemoSource:
    """The demo ERP as a `Source`, with its fault knobs applied."""

    def __init__(self, erp: DemoERP, faults: DemoFaults | None = None) -> None:
        self.erp = erp
        self.faults = faults or DemoFaults()
        self._rng = random.Random(erp.seed)

    async def page(self, entity: str, since: str | None, token: str | None, limit: int) -> Page:
        faults = self.faults
        pages = 0 if token is None else json.loads(token)[3]
        if faults.latency_s:
            await asyncio.sleep(faults.latency_s)
        if faults.hang_after_pages is not None and pages >= faults.hang_after_pages:
            await asyncio.sleep(365 * 24 * 3600)  # a hung ERP: only a timeout or cancel ends it
        self._maybe_fail()
        return await asyncio.to_thread(self._serve, entity, since, token, limit)

    def page_blocking(
        self, entity: str, since: str | None, token: str | None, limit: int, stop: threading.Event
    ) -> Page:
        """`page` for a worker thread: the faults wait on `stop` instead of the event loop."""
        faults = self.faults
        pages = 0 if token is None else json.loads(token)[3]
        if faults.latency_s and stop.wait(faults.latency_s):
            raise SourceInterrupted("reading the demo ERP was stopped")
        if faults.hang_after_pages is not None and pages >= faults.hang_after_pages:
            stop.wait()  # a hung ERP: only a timeout or cancel ends it
            raise SourceInterrupted("reading the demo ERP was stopped")
        self._maybe_fail()
        return self._serve(entity, since, token, limit, rows=True)

    def _maybe_fail(self) -> None:
        if self.faults.error_rate and self._rng.random() < self.faults.error_rate:
            raise SourceUnavailable("demo ERP: simulated 503 Service Unavailable")

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
        full_cap = None
        if since is None and faults.truncate_full is not None:
            full_cap = int(faults.truncate_full * self.erp.count(entity))
            records = records[: max(0, full_cap - served)]
        next_token = None
        if len(records) == limit and (full_cap is None or served + len(records) < full_cap):
            last = records[-1]
            next_token = json.dumps(
                [last["updated_at"], last[KEYS[entity]], served + len(records), pages + 1]
            )
        if faults.malformed_rate:
            records = [
                corrupt(r, entity, self.erp.seed)
                if is_malformed(r, entity, self.erp.seed, faults.malformed_rate)
                else r
                for r in records
            ]
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
        full_cap = None
        if since is None and self.faults.truncate_full is not None:
            full_cap = int(self.faults.truncate_full * self.erp.count(entity))
            rows = rows[: max(0, full_cap - served)]
        next_token = None
        if len(rows) == limit and (full_cap is None or served + len(rows) < full_cap):
            last = dict(zip(columns, rows[-1], strict=True))
            next_token = json.dumps(
                [last["updated_at"], last[KEYS[entity]], served + len(rows), pages + 1]
            )
        return Page(next=next_token, columns=columns, rows=rows)

    async def estimate(self, entity: str, since: str | None) -> int | None:
        return await asyncio.to_thread(self.erp.count, entity, since)

    async def close(self) -> None:
        return None
