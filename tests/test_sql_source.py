"""The SQL source against real databases: PostgreSQL and MariaDB on the local servers
(a database of their own per module, dropped after) and a SQLite file, all holding the
same ERP-shaped rows (`tests/support/erpdb.py`). Every listing is compared with a direct
query through the driver. What only one server shows is in `test_sql_source_servers.py`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from support.erpdb import (
    BIG,
    DST_IDS,
    DST_INSTANTS,
    MICRO,
    TIE,
    ErpDb,
    Kind,
    Rows,
    col,
    entities,
    listing,
    unavailable,
    wall,
)

from core.errors import SourceError, SourceUnavailable
from core.sources.base import BlockingSource, KeyOrderedSource
from core.sources.sql.cancel import Canceller
from core.sources.sql.mapping import SqlEntity
from core.sources.sql.source import SqlSource

pytestmark = pytest.mark.timeout(120)

KINDS: list[Kind] = ["postgresql", "mariadb", "sqlite"]
TIE_SINCE = "2026-10-20T07:00:00Z"
"""The instant whose Rome wall time is TIE."""
PARTNER_COLUMNS = "id, name, lower(email), credit, big, active, write_date"


@pytest.fixture(scope="module", params=KINDS)
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ErpDb]:
    kind: Kind = request.param
    reason = unavailable(kind)
    if reason:
        pytest.skip(reason)
    made = ErpDb(kind, tmp_path_factory.mktemp("erp"))
    try:
        yield made
    finally:
        made.drop()


def make_source(db: ErpDb, url: str | None = None, **extra: SqlEntity) -> SqlSource:
    return SqlSource(
        url or db.url,
        {**entities(db), **extra},
        zone="Europe/Rome",
        source_name="erp",
        connect_timeout_s=3,
    )


@pytest.fixture
def source(db: ErpDb) -> Iterator[SqlSource]:
    made = make_source(db)
    try:
        yield made
    finally:
        asyncio.run(made.close())


def bound(db: ErpDb, value: datetime) -> Any:
    """A naive wall time as the database's direct query takes it (SQLite: its text)."""
    return value.isoformat(" ") if db.kind == "sqlite" else value


def test_a_sql_source_is_a_blocking_source(source: SqlSource) -> None:
    assert isinstance(source, BlockingSource)


@pytest.mark.parametrize("limit", [1, 3, 7, 100])
def test_the_full_listing_is_every_row_by_key(db: ErpDb, source: SqlSource, limit: int) -> None:
    expected = db.rows(f"SELECT {PARTNER_COLUMNS} FROM {db.prefix}res_partner ORDER BY id")
    rows, _, pages = listing(source, "partners", None, limit)
    assert rows == expected
    assert len(expected) == 19
    assert pages == -(-len(expected) // limit)  # no empty last page: limit + 1 rows read


@pytest.mark.parametrize("limit", [1, 3, 4, 100])
def test_an_incremental_listing_pages_through_a_tie_larger_than_a_page(
    db: ErpDb, source: SqlSource, limit: int
) -> None:
    expected = db.rows(
        f"SELECT {PARTNER_COLUMNS} FROM {db.prefix}res_partner "
        "WHERE write_date >= %s ORDER BY write_date, id",
        (bound(db, TIE),),
    )
    rows, _, _ = listing(source, "partners", TIE_SINCE, limit)
    assert rows == expected
    tied = [row[0] for row in rows if row[-1] in (TIE, bound(db, TIE))]
    assert tied == list(range(1, 11))  # ten rows share the cursor: more than a page of 3
    assert len({row[0] for row in rows}) == len(rows)  # never twice
    assert 30 not in [row[0] for row in rows]  # a NULL cursor is never "since" anything


def test_a_composite_key_pages_in_full_and_incrementally(db: ErpDb, source: SqlSource) -> None:
    table = f"{db.prefix}price_list_item"
    columns = "list_id, product_id, price, write_date"
    full = db.rows(f"SELECT {columns} FROM {table} ORDER BY list_id, product_id")
    assert listing(source, "prices", None, 5)[0] == full
    later = db.rows(
        f"SELECT {columns} FROM {table} WHERE write_date >= %s "
        "ORDER BY write_date, list_id, product_id",
        (bound(db, TIE),),
    )
    for limit in (1, 2, 5):
        assert listing(source, "prices", TIE_SINCE, limit)[0] == later
    assert len(later) == 12


def test_children_come_with_their_parents(db: ErpDb, source: SqlSource) -> None:
    p = db.prefix
    rows, children, _ = listing(source, "orders", None, 3)
    assert [row[0] for row in rows] == list(range(1, 8))
    for row, kids in zip(rows, children, strict=True):
        expected = db.rows(
            f"SELECT id, product, qty, price FROM {p}sale_order_line WHERE order_id = %s "
            "ORDER BY id",
            (row[0],),
        )
        assert kids == expected
        assert len(kids) == row[0] % 4
    assert isinstance(children[0][0][2], Decimal)


def test_decimals_come_back_as_decimals_exactly(db: ErpDb, source: SqlSource) -> None:
    rows = {row[0]: row for row in listing(source, "partners", None, 100)[0]}
    credit, big = rows[2][3], rows[1][4]
    assert type(credit) is Decimal and type(big) is Decimal
    if db.kind == "sqlite":  # no decimal type: see dialects.sqlite_converters
        assert credit == Decimal("0.3")  # 0.1 + 0.2 as a float, read from its 15 digits
        assert big == Decimal("1.23456789012346E+19")  # what SQLite kept of BIG
    else:
        assert credit == Decimal("0.30") and str(credit) == "0.30"
        assert big == BIG and str(big) == "12345678901234567890.12"
    assert rows[3][3] == Decimal("31.50")


def test_a_naive_since_bound_covers_the_autumns_repeated_hour(db: ErpDb, source: SqlSource) -> None:
    since = "2026-10-25T00:45:00Z"  # 02:45 CEST; at 01:00 UTC the clocks go back to 02:00
    rows, _, _ = listing(source, "partners", since, 2)
    listed = {row[0] for row in rows}
    after = [i for i, t in zip(DST_IDS, DST_INSTANTS, strict=True) if t.isoformat() >= since[:-1]]
    assert after == DST_IDS[2:]  # written at or after `since`: 00:50, 01:10 ... UTC
    assert set(after) <= listed
    assert wall(DST_INSTANTS[3]) < datetime(2026, 10, 25, 2, 45)  # a naive bound misses it
    expected = db.rows(
        f"SELECT {PARTNER_COLUMNS} FROM {db.prefix}res_partner WHERE write_date >= %s "
        "ORDER BY write_date, id",
        (bound(db, datetime(2026, 10, 25, 2, 0)),),  # the lowest wall time after `since`
    )
    assert rows == expected


def test_microseconds_are_never_rounded_up(db: ErpDb, source: SqlSource) -> None:
    rows, _, _ = listing(source, "partners", "2026-10-26T09:00:00.123456Z", 10)
    assert [row[0] for row in rows] == [20]  # written at 10:00:00.123456 Rome
    rows, _, _ = listing(source, "partners", "2026-10-26T09:00:00.1234569Z", 10)
    assert [row[0] for row in rows] == [20]  # a seventh digit is cut, not rounded up
    assert listing(source, "partners", "2026-10-26T09:00:00.123457Z", 10)[0] == []


def test_the_high_water_is_the_highest_cursor_before_a_pass_by_key(
    db: ErpDb, source: SqlSource
) -> None:
    """A full pass is ordered by key (`KeyOrderedSource`): the engine keeps its cursor at or
    below the highest cursor value read before it, as the driver gives it."""
    assert isinstance(source, KeyOrderedSource)
    top = db.rows(f"SELECT max(write_date) FROM {db.prefix}res_partner")[0][0]
    assert asyncio.run(source.high_water("partners")) == top
    assert top in (MICRO, str(MICRO))  # SQLite: the text it compares
    empty = make_source(db, none=SqlEntity(
        name="none", query=f"SELECT id, write_date FROM {db.prefix}res_partner WHERE id < 0",
        columns=(col("id"), col("write_date")), key=("id",), cursor="write_date",
        cursor_kind="timestamp"))  # fmt: skip
    try:
        assert asyncio.run(empty.high_water("none")) is None
    finally:
        asyncio.run(empty.close())


def test_estimates_count_the_listing(db: ErpDb, source: SqlSource) -> None:
    assert source.estimate_blocking("partners", None) == 19
    expected = listing(source, "partners", TIE_SINCE, 100)[0]
    assert source.estimate_blocking("partners", TIE_SINCE) == len(expected)
    assert source.estimate_blocking("nope", None) is None


def test_a_query_entity_is_read_as_written(db: ErpDb, source: SqlSource) -> None:
    """`LIKE 'Night%'` and `':x'` reach the database as they are (no parameter, no %%)."""
    rows, _, _ = listing(source, "night", None, 4)
    assert [row[0] for row in rows] == DST_IDS
    rows, _, _ = listing(source, "night", "2026-10-25T01:30:00Z", 4)
    # wall times from 02:30 on: 02:40 CEST and 02:40 CET (a tie, by id), 02:50 CEST, 03:30
    assert [row[0] for row in rows] == [12, 16, 13, 17]


def test_the_async_page_and_estimate(source: SqlSource) -> None:
    async def run() -> tuple[Rows, int | None]:
        page = await source.page("partners", None, None, 5)
        assert page.rows is not None and page.next is not None
        more = await source.page("partners", None, page.next, 5)
        assert more.rows is not None
        return page.rows + more.rows, await source.estimate("partners", TIE_SINCE)

    rows, estimate = asyncio.run(run())
    assert [row[0] for row in rows] == list(range(1, 11))
    assert estimate is not None and estimate > 10


def test_a_token_from_another_source_is_refused(db: ErpDb, source: SqlSource) -> None:
    page = source.page_blocking("partners", None, None, 2, threading.Event())
    assert page.next is not None
    other = make_source(db)
    try:
        with pytest.raises(SourceError, match=r'entity "partners".*page token'):
            other.page_blocking("partners", None, page.next, 2, threading.Event())
        with pytest.raises(SourceError, match="page token"):
            source.page_blocking("partners", TIE_SINCE, page.next, 2, threading.Event())
        with pytest.raises(SourceError, match="page token"):
            source.page_blocking("partners", None, "not-a-token", 2, threading.Event())
    finally:
        asyncio.run(other.close())


def test_check_reports_the_mapping(db: ErpDb, source: SqlSource) -> None:
    found = source.check("partners")
    assert found.runs and found.problems == ()
    assert found.columns_present == ("id", "name", "email", "credit", "big", "active", "write_date")
    assert found.columns_missing == ()
    assert (found.rows, found.distinct_keys, found.key_unique) == (19, 19, True)
    assert found.cursor_nulls == 1
    assert [row[0] for row in found.sample] == [1, 2, 3]
    assert found.zone == "Europe/Rome" and found.dialect == source.dialect
    names = {"postgresql": "numeric", "mariadb": "NEWDECIMAL", "sqlite": "Decimal"}
    assert found.column_types["credit"] == names[db.kind]
    if db.kind == "sqlite":
        assert found.database_time_zone is None
    else:
        assert found.database_time_zone  # PostgreSQL's TimeZone, MariaDB's SYSTEM (system: UTC)


def test_check_names_the_columns_that_fail(db: ErpDb) -> None:
    bad = SqlEntity(
        name="broken",
        table=f"{db.prefix}res_partner",
        columns=(col("id"), col("name"), col("nope", "no_such_column"), col("write_date")),
        key=("id",),
        cursor="write_date",
        cursor_kind="timestamp",
    )
    source = make_source(db, broken=bad)
    try:
        found = source.check("broken")
    finally:
        asyncio.run(source.close())
    assert not found.runs
    assert found.columns_present == ("id", "name", "write_date")
    assert found.columns_missing == ("nope",)
    assert found.problems and "no_such_column" in found.problems[0]
    assert found.rows == 19  # the other steps still ran


def test_check_names_a_relation_that_cannot_be_read_once(db: ErpDb) -> None:
    """Every later step would fail with the same words: the first one's line is all."""
    ghost = SqlEntity(
        name="ghost",
        table=f"{db.prefix}no_such_table",
        columns=(col("id"), col("write_date")),
        key=("id",),
        cursor="write_date",
        cursor_kind="timestamp",
    )
    source = make_source(db, ghost=ghost)
    try:
        found = source.check("ghost")
    finally:
        asyncio.run(source.close())
    assert not found.runs and found.columns_missing == () and found.columns_present == ()
    assert len(found.problems) == 1 and "no_such_table" in found.problems[0], found.problems
    assert 'entity "ghost": sample:' in found.problems[0]
    assert (found.rows, found.key_unique, found.cursor_nulls) == (None, None, None)


@pytest.mark.parametrize(
    ("table", "query", "words"),
    [
        ("no_such_table", None, "no_such_table"),
        (None, "SELEC id, write_date FROM t", "syntax"),
    ],
    ids=["unknown table", "bad query"],
)
def test_what_the_database_refuses_is_a_permanent_error(
    db: ErpDb, table: str | None, query: str | None, words: str
) -> None:
    wrong = SqlEntity(
        name="wrong",
        table=table,
        query=query,
        columns=(col("id"), col("write_date")),
        key=("id",),
        cursor="write_date",
        cursor_kind="timestamp",
    )
    source = make_source(db, wrong=wrong)
    try:
        with pytest.raises(SourceError) as caught:
            source.page_blocking("wrong", None, None, 10, threading.Event())
    finally:
        asyncio.run(source.close())
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith('sql source "erp" (') and 'entity "wrong": page: ' in text
    assert words in text


def test_a_refused_connection_is_transient(db: ErpDb) -> None:
    if db.kind == "sqlite":
        pytest.skip("a SQLite file has no connection to refuse")
    scheme = "postgresql" if db.kind == "postgresql" else "mysql"
    url = f"{scheme}://reader:s3cret-pw@127.0.0.1:1/{db.name}"
    source = make_source(db, url)
    try:
        with pytest.raises(SourceUnavailable) as caught:
            source.page_blocking("partners", None, None, 10, threading.Event())
        assert source.estimate_blocking("partners", None) is None
        found = source.check("partners")
    finally:
        asyncio.run(source.close())
    text = str(caught.value)
    assert "s3cret-pw" not in text and f"reader@127.0.0.1:1/{db.name}" in text
    assert 'entity "partners"' in text and "\n" not in text
    assert not found.runs and found.rows is None and found.problems


def test_a_sqlite_file_reads_decimals_as_sqlite_kept_them(tmp_path: Path) -> None:
    """SQLite has no decimal type (`dialects.sqlite_converters`): a TEXT column keeps every
    digit, as text; NUMERIC keeps 15 significant digits; timestamps are text."""
    path = tmp_path / "money.db"
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "CREATE TABLE m (id INTEGER PRIMARY KEY, exact TEXT, approx NUMERIC(22,2), "
            "at TIMESTAMP)"
        )
        conn.execute("INSERT INTO m VALUES (1, ?, ?, '2026-10-25T02:30:00')", (str(BIG), str(BIG)))
    conn.close()
    entity = SqlEntity(
        name="m",
        table="m",
        columns=(col("id"), col("exact"), col("approx"), col("at")),
        key=("id",),
        cursor="at",
        cursor_kind="timestamp",
    )
    source = SqlSource(f"sqlite:///{path}", {"m": entity}, zone="Europe/Rome", source_name="erp")
    try:
        page = source.page_blocking("m", None, None, 10, threading.Event())
        assert page.rows == [(1, str(BIG), Decimal("1.23456789012346E+19"), "2026-10-25T02:30:00")]
        # stored with a 'T': the bound is text shaped alike (02:00, the repeated hour's start)
        since = source.page_blocking("m", "2026-10-25T00:45:00Z", None, 10, threading.Event())
        assert since.rows == page.rows
        later = source.page_blocking("m", "2026-10-25T01:31:00Z", None, 10, threading.Event())
        assert later.rows == []
    finally:
        asyncio.run(source.close())


class _Connection:
    def __init__(self) -> None:
        self.cancelled = 0

    def cancel_safe(self) -> None:
        self.cancelled += 1


def test_a_stopped_read_is_cancelled_once_and_an_ended_one_never() -> None:
    canceller = Canceller(0.01)
    stopped, ended, running = _Connection(), _Connection(), _Connection()
    stop = threading.Event()
    end_stopped = canceller.watch(stop, stopped)
    canceller.watch(stop, ended)()  # its read is over before the stop
    end_running = canceller.watch(threading.Event(), running)
    stop.set()
    deadline = time.monotonic() + 5
    while not stopped.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # a few more looks: still once
    end_stopped()
    end_running()
    canceller.close()
    assert (stopped.cancelled, ended.cancelled, running.cancelled) == (1, 0, 0)
