"""Throwaway ERP-shaped databases for the SQL source's tests: a PostgreSQL database and
a MariaDB database on the local servers (random names, dropped after), or a SQLite file.

Every one holds the same rows, written through its own driver: partners whose
`write_date` is a naive wall time in Europe/Rome (ten sharing one value, seven around
the 2026-10-25 autumn transition, one with microseconds, one NULL), money as
NUMERIC(20,2) and a 20-digit NUMERIC(22,2), price-list items under a composite key, and
orders with their lines as a child table. `ErpDb.rows(sql)` reads directly through the
driver, for the tests to compare the source with. PostgreSQL keeps the tables in a
schema `erp`; MariaDB and SQLite in the database itself (`prefix`). With `fill=False` the
database is empty but for PostgreSQL's schema `erp` (the end-to-end tests make their own
tables); `connect()` gives a driver connection of the test's own (writers, transactions
held open) and `read_only_url()` an account that may only SELECT.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import psycopg
import pymysql
import pytest

from core.sources.sql.dialects import sqlite_converters
from core.sources.sql.mapping import SqlChild, SqlColumn, SqlEntity
from core.sources.sql.source import SqlSource

Kind = Literal["postgresql", "mariadb", "sqlite"]
ROME = ZoneInfo("Europe/Rome")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}

TIE = datetime(2026, 10, 20, 9, 0, 0)
"""The wall time ten partners share (07:00 UTC)."""
DST_INSTANTS = [
    datetime(2026, 10, 24, 22, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 40, tzinfo=UTC),  # 02:40 CEST
    datetime(2026, 10, 25, 0, 50, tzinfo=UTC),  # 02:50 CEST
    datetime(2026, 10, 25, 1, 10, tzinfo=UTC),  # 02:10 CET: the hour again
    datetime(2026, 10, 25, 1, 20, tzinfo=UTC),  # 02:20 CET
    datetime(2026, 10, 25, 1, 40, tzinfo=UTC),  # 02:40 CET
    datetime(2026, 10, 25, 2, 30, tzinfo=UTC),  # 03:30 CET
]
DST_IDS = list(range(11, 11 + len(DST_INSTANTS)))
MICRO = datetime(2026, 10, 26, 10, 0, 0, 123456)
BIG = Decimal("12345678901234567890.12")


def wall(instant: datetime) -> datetime:
    return instant.astimezone(ROME).replace(tzinfo=None)


def partners() -> list[tuple[Any, ...]]:
    """(id, name, email, credit, big, active, write_date) as written."""
    rows: list[tuple[Any, ...]] = []
    for i in range(1, 11):
        rows.append((i, f"Partner {i}", f"P{i}@Example.com", Decimal(i) * Decimal("10.50"),
                     BIG if i == 1 else Decimal(i), i % 2 == 0, TIE))  # fmt: skip
    for i, instant in zip(DST_IDS, DST_INSTANTS, strict=True):
        rows.append((i, f"Night {i}", f"N{i}@example.com", Decimal("1.00"), Decimal(0), True,
                     wall(instant)))  # fmt: skip
    rows.append((20, "Micro", "m@example.com", Decimal("2.00"), Decimal(0), True, MICRO))
    rows.append((30, "Undated", "u@example.com", Decimal("3.00"), Decimal(0), False, None))
    return rows


def prices() -> list[tuple[Any, ...]]:
    """(list_id, product_id, price, write_date): twelve under a composite key, six tied."""
    return [
        (lst, prod, Decimal(lst * 100 + prod) / 100, TIE if prod <= 2 else datetime(2026, 10, 21))
        for lst in (1, 2, 3)
        for prod in (1, 2, 3, 4)
    ]


def orders() -> list[tuple[Any, ...]]:
    return [(i, f"SO{i:03d}", Decimal(i * 100), datetime(2026, 10, 22, 8, i)) for i in range(1, 8)]


def lines() -> list[tuple[Any, ...]]:
    """(id, order_id, product, qty, price): 0 to 3 lines per order, ids not in order order."""
    out = []
    for order in range(1, 8):
        for n in range(order % 4):
            out.append(
                (100 - order * 10 + n, order, f"prod-{n}", Decimal("1.500"), Decimal("9.99"))
            )
    return out


def _ddl(kind: Kind, p: str) -> list[str]:
    ts = "DATETIME(6)" if kind == "mariadb" else "TIMESTAMP"
    boolean = "TINYINT(1)" if kind == "mariadb" else "BOOLEAN"
    out = [
        f"CREATE TABLE {p}res_partner (id INTEGER PRIMARY KEY, name VARCHAR(100), "
        f"email VARCHAR(100), credit NUMERIC(20,2), big NUMERIC(22,2), active {boolean}, "
        f"write_date {ts})",
        f"CREATE TABLE {p}price_list_item (list_id INTEGER NOT NULL, product_id INTEGER NOT "
        f"NULL, price NUMERIC(20,2), write_date {ts}, PRIMARY KEY (list_id, product_id))",
        f"CREATE TABLE {p}sale_order (id INTEGER PRIMARY KEY, name VARCHAR(20), "
        f"amount NUMERIC(20,2), write_date {ts})",
        f"CREATE TABLE {p}sale_order_line (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, "
        "product VARCHAR(20), qty NUMERIC(12,3), price NUMERIC(20,2))",
    ]
    if kind == "postgresql":
        out.insert(0, "CREATE SCHEMA erp")
    if kind == "mariadb":  # one-second precision: TIMESTAMP (UTC inside) and DATETIME
        out.append(
            "CREATE TABLE stamp_event (id INTEGER PRIMARY KEY, "
            "ts TIMESTAMP(0) NOT NULL DEFAULT CURRENT_TIMESTAMP, dt DATETIME(0) NOT NULL)"
        )
    return out


class ErpDb:
    """One database of `kind`, filled; `drop()` removes it."""

    def __init__(self, kind: Kind, tmp: Path, *, fill: bool = True) -> None:
        self.kind = kind
        self.name = f"syncdeck_src_{uuid.uuid4().hex[:10]}"
        self._accounts: list[str] = []
        self.prefix = "erp." if kind == "postgresql" else ""
        if kind == "postgresql":
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {self.name}")
            self.url = f"postgresql://postgres@127.0.0.1:5432/{self.name}"
        elif kind == "mariadb":
            with pymysql.connect(**MARIADB, autocommit=True) as admin, admin.cursor() as cur:
                cur.execute(f"CREATE DATABASE {self.name}")
            self.url = f"mariadb://root@127.0.0.1:3306/{self.name}"
        else:
            self.path = tmp / f"{self.name}.db"
            self.url = f"sqlite:///{self.path}"
        if not fill:
            if kind == "postgresql":
                self.execute("CREATE SCHEMA erp")
            return
        self.execute(*_ddl(kind, self.prefix))
        p = self.prefix
        self.insert(f"{p}res_partner", partners())
        self.execute(f"UPDATE {p}res_partner SET credit = 0.1 + 0.2 WHERE id = 2")
        self.insert(f"{p}price_list_item", prices())
        self.insert(f"{p}sale_order", orders())
        self.insert(f"{p}sale_order_line", lines())
        if kind == "mariadb":
            second = datetime(2026, 10, 20, 9, 0, 0)
            self.insert(
                "stamp_event",
                [
                    (i, second if i <= 10 else datetime(2026, 10, 20, 9, 0, i), second)
                    for i in range(1, 14)
                ],
            )

    def _param(self, value: Any) -> Any:
        if self.kind != "sqlite":
            return value
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat(" ")
        return int(value) if isinstance(value, bool) else value

    def _marker(self) -> str:
        return "?" if self.kind == "sqlite" else "%s"

    def insert(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        marks = ", ".join(self._marker() for _ in rows[0])
        sql = f"INSERT INTO {table} VALUES ({marks})"
        self.execute_many(sql, [tuple(self._param(v) for v in row) for row in rows])

    def execute(self, *sql: str) -> None:
        for statement in sql:
            self.execute_many(statement, [])

    def execute_many(self, sql: str, params: Sequence[tuple[Any, ...]]) -> None:
        """`sql` once per parameter tuple, or once without any (`params` empty)."""
        if self.kind == "postgresql":
            with psycopg.connect(self.admin_url(), autocommit=True) as conn, conn.cursor() as cur:
                if params:
                    cur.executemany(sql.encode(), params)
                else:
                    cur.execute(sql.encode())
        elif self.kind == "mariadb":
            with (
                pymysql.connect(**MARIADB, database=self.name, autocommit=True) as conn,
                conn.cursor() as cur,
            ):
                if params:
                    cur.executemany(sql, params)
                else:
                    cur.execute(sql)
        else:
            conn3 = sqlite3.connect(self.path)
            try:
                with conn3:
                    conn3.executemany(sql, params or [()])
            finally:
                conn3.close()

    def connect(self, *, autocommit: bool = True) -> Any:
        """A driver connection as the database's administrator (psycopg or pymysql; SQLite
        has none here): the caller closes it. PostgreSQL's session reads `now()` and
        `localtimestamp` in Europe/Rome, as an ERP writing local wall times would."""
        if self.kind == "postgresql":
            conn = psycopg.connect(self.admin_url(), autocommit=autocommit)
            conn.execute("SET TIME ZONE 'Europe/Rome'")
            if not autocommit:
                conn.commit()
            return conn
        assert self.kind == "mariadb", "a SQLite file has no connection here"
        return pymysql.connect(**MARIADB, database=self.name, autocommit=autocommit)

    def read_only_url(self, password: str) -> str:
        """A new account that may only SELECT from every table of the database now, as a
        URL with `password` in it (dropped with the database: PostgreSQL's role by `drop`)."""
        account = f"ro_{uuid.uuid4().hex[:8]}"
        if self.kind == "postgresql":
            self.execute(
                f"CREATE ROLE {account} LOGIN PASSWORD '{password}'",
                f"GRANT USAGE ON SCHEMA erp TO {account}",
                f"GRANT SELECT ON ALL TABLES IN SCHEMA erp TO {account}",
            )
            self._accounts.append(account)
            return f"postgresql://{account}:{password}@127.0.0.1:5432/{self.name}"
        assert self.kind == "mariadb", "a SQLite file has no accounts"
        self.execute(
            f"CREATE USER '{account}'@'%' IDENTIFIED BY '{password}'",
            f"GRANT SELECT ON {self.name}.* TO '{account}'@'%'",
        )
        self._accounts.append(account)
        return f"mariadb://{account}:{password}@127.0.0.1:3306/{self.name}"

    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{self.name}"

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A direct query through the driver (SQLite: with the source's decimal converters)."""
        if self.kind == "postgresql":
            with psycopg.connect(self.admin_url(), autocommit=True) as conn:
                return [tuple(r) for r in conn.execute(sql.encode(), params).fetchall()]
        if self.kind == "mariadb":
            with pymysql.connect(**MARIADB, database=self.name) as conn, conn.cursor() as cur:
                cur.execute(sql, params)
                return [tuple(r) for r in cur.fetchall()]
        sqlite_converters()
        lite = sqlite3.connect(self.path, detect_types=sqlite3.PARSE_DECLTYPES)
        try:
            return [tuple(r) for r in lite.execute(sql.replace("%s", "?"), params).fetchall()]
        finally:
            lite.close()

    def drop(self) -> None:
        if self.kind == "postgresql":
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
                for role in self._accounts:  # owns nothing once its database is gone
                    admin.execute(f"DROP ROLE IF EXISTS {role}")
        elif self.kind == "mariadb":
            with pymysql.connect(**MARIADB, autocommit=True) as admin, admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {self.name}")
                for user in self._accounts:
                    cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        else:
            self.path.unlink(missing_ok=True)


def unavailable(kind: Kind) -> str | None:
    """Why `kind` cannot be tested here, or None."""
    try:
        if kind == "postgresql":
            with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        elif kind == "mariadb":
            pymysql.connect(**MARIADB, connect_timeout=3).close()
    except Exception as exc:  # any failure: the server is not there
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"no {kind} server on 127.0.0.1 ({first}); `make test` starts the local one"
    return None


def col(name: str, expression: str | None = None) -> SqlColumn:
    return SqlColumn(name, expression or name)


def entities(db: ErpDb) -> dict[str, SqlEntity]:
    """The mapping the tests read `db` with."""
    p = db.prefix
    stamp = ("write_date",)
    partners = SqlEntity(
        name="partners",
        table=f"{p}res_partner",
        columns=(
            col("id"),
            col("name"),
            col("email", "lower(email)"),
            col("credit"),
            col("big"),
            col("active"),
            col("write_date"),
        ),
        key=("id",),
        cursor="write_date",
        cursor_kind="timestamp",
    )
    prices = SqlEntity(
        name="prices",
        table=f"{p}price_list_item",
        columns=(col("list_id"), col("product_id"), col("price"), *map(col, stamp)),
        key=("list_id", "product_id"),
        cursor="write_date",
        cursor_kind="timestamp",
    )
    lines = SqlChild(
        table=f"{p}sale_order_line",
        parent="order_id",
        columns=(col("id"), col("product"), col("qty"), col("price")),
        key=("id",),
    )
    orders = SqlEntity(
        name="orders",
        table=f"{p}sale_order",
        columns=(col("id"), col("name"), col("amount"), *map(col, stamp)),
        key=("id",),
        cursor="write_date",
        cursor_kind="timestamp",
        child=lines,
    )
    night = SqlEntity(
        name="night",
        query=f"SELECT id, name, write_date FROM {p}res_partner "
        "WHERE name LIKE 'Night%' AND name <> 'a:b' AND email <> ':x'",
        columns=(col("id"), col("name"), *map(col, stamp)),
        key=("id",),
        cursor="write_date",
        cursor_kind="timestamp",
    )
    return {e.name: e for e in (partners, prices, orders, night)}


Rows = list[tuple[Any, ...]]


def listing(
    source: SqlSource, entity: str, since: str | None, limit: int
) -> tuple[Rows, list[Rows], int]:
    """Every page of a listing: its rows, their children, and how many pages it took;
    fails if a token comes back twice."""
    rows: Rows = []
    children: list[Rows] = []
    tokens: set[str] = set()
    token: str | None = None
    pages = 0
    while True:
        page = source.page_blocking(entity, since, token, limit, threading.Event())
        pages += 1
        assert page.rows is not None and len(page.rows) <= limit
        rows.extend(page.rows)
        if page.children is not None:
            assert len(page.children) == len(page.rows)
            children.extend(page.children)
        if page.next is None:
            return rows, children, pages
        assert page.next not in tokens
        tokens.add(page.next)
        token = page.next


def empty_erp(kind: Kind, tmp_path: Path) -> Iterator[ErpDb]:
    """An ERP database of `kind` with its tables and no rows, dropped afterwards; the test
    is skipped, saying why, when its server is not running."""
    reason = unavailable(kind)
    if reason:
        pytest.skip(reason)
    db = ErpDb(kind, tmp_path, fill=False)
    try:
        yield db
    finally:
        db.drop()
