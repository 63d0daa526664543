"""The demo ERP changing over time, like a live ERP: inserts, updates and deletes.

`advance()` applies `changes_per_minute` changes for the time elapsed since its
last call (at most 10,000 at once), all stamped with the same whole second, so
that incremental syncs meet many records sharing one cursor value. The changes
are drawn from the seed and the tick count, so the same history replays the
same changes. `mutate`, `upsert` and `delete` are direct edits for tests and
tools.

Each public method is one write transaction under the ERP's lock; on any error
it is rolled back and the error (`sqlite3.Error`, `KeyError` for an unknown
entity) propagates.
"""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from core.config import DemoSizes
from core.demo.generation import (
    CATEGORIES,
    COLUMNS,
    COUNTRIES,
    KEY_FORMATS,
    KEYS,
    LINE_COLUMNS,
    STATUSES,
    iso,
    read_meta,
    write_meta,
)


class DemoChanges:
    """The writing half of `core.demo.erp.DemoERP`, which supplies the state declared here."""

    seed: int
    sizes: DemoSizes
    changes_per_minute: float
    _clock: Callable[[], float]
    _lock: threading.Lock
    _db: sqlite3.Connection

    def advance(self) -> int:
        """Apply the changes a live ERP would have made since the last call; return how many."""
        if self.changes_per_minute <= 0:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                now = self._clock()
                last = float(read_meta(self._db, "last_tick", str(now)))
                due = int((now - last) * self.changes_per_minute / 60)
                if due <= 0:
                    self._db.execute("COMMIT")
                    return 0
                due = min(due, 10_000)
                ticks = int(read_meta(self._db, "ticks", "0"))
                rng = random.Random(f"{self.seed}:{ticks}")
                applied = self._mutate_locked(rng, due, iso(now))
                write_meta(self._db, "last_tick", str(now))
                write_meta(self._db, "ticks", str(ticks + 1))
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
        value = int(read_meta(self._db, "next_id", "0"))
        write_meta(self._db, "next_id", str(value + 1))
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
            try:
                self._delete_locked(entity, keys)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _delete_locked(self, entity: str, keys: list[str]) -> None:
        k = KEYS[entity]
        self._db.executemany(f"DELETE FROM {entity} WHERE {k} = ?", [(key,) for key in keys])
        if entity == "orders":
            self._db.executemany(
                "DELETE FROM order_lines WHERE order_id = ?", [(key,) for key in keys]
            )
