"""The demo ERP's file: its layout, its schema, and the seeded data it starts with.

Everything here is a pure function of the seed and the sizes, so the same seed
gives the same ERP on every machine (tests and benchmarks rely on the exact
records). Initial records are stamped from `BASE_EPOCH` in groups of
`ROWS_PER_SECOND` per whole second, so that many records share one cursor value,
as they do in a real ERP's change log.

A file written by another `LAYOUT` holds only generated data, so it is deleted
and generated anew rather than migrated. Errors are sqlite3's own
(`sqlite3.Error`, `OSError`); nothing here catches them, except a missing meta
table, which means "not a demo ERP file of this layout".
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from core.config import DemoSizes

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


def schema() -> list[str]:
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


def discard_other_layout(path: Path) -> None:
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


def write_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def read_meta(db: sqlite3.Connection, key: str, default: str) -> str:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return default if row is None else str(row[0])


def ensure_generated(
    db: sqlite3.Connection, seed: int, sizes: DemoSizes, clock: Callable[[], float]
) -> None:
    """Create the schema and, in a file not yet generated, the initial data and its meta
    (change-over-time state starts at `clock()`), inside the caller's transaction."""
    for statement in schema():
        db.execute(statement)
    if db.execute("SELECT value FROM meta WHERE key = 'generated'").fetchone() is None:
        generate(db, seed, sizes)
        write_meta(db, "generated", json.dumps(msgspec.structs.asdict(sizes)))
        write_meta(db, "layout", LAYOUT)
        write_meta(db, "seed", str(seed))
        write_meta(db, "last_tick", str(clock()))
        write_meta(db, "ticks", "0")
        write_meta(db, "next_id", "0")


def generate(db: sqlite3.Connection, seed: int, sizes: DemoSizes) -> None:
    """Insert the initial records of `sizes`, drawn from `seed`, inside the caller's transaction."""
    rng = random.Random(seed)

    def stamp(i: int) -> str:
        return iso(BASE_EPOCH + i // ROWS_PER_SECOND)

    db.executemany(
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
    db.executemany(
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
    db.executemany(
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
                lines.append((order_id, line_no, f"P{rng.randrange(n_products):08d}", qty, price))
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
        db.executemany(
            f"INSERT INTO orders ({', '.join(COLUMNS['orders'])}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            orders,
        )
        db.executemany("INSERT INTO order_lines VALUES (?, ?, ?, ?, ?)", lines)
