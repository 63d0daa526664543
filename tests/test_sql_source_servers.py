"""What only one server shows about the SQL source: a read-only PostgreSQL role and a
MariaDB user with SELECT alone read, and are refused (permanently, without the password
in the message) where they have no grant; reads are read-only transactions; `stop`
cancels a PostgreSQL statement at once and lets a MariaDB page finish; PostgreSQL's xmin
horizon and aware timestamps; MariaDB's one-second TIMESTAMP and DATETIME ties.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from support.erpdb import DST_INSTANTS, ErpDb, Kind, col, entities, listing, unavailable

from core.errors import SourceError, SourceInterrupted, SourceUnavailable
from core.sources.sql.mapping import SqlEntity
from core.sources.sql.source import SqlSource

pytestmark = pytest.mark.timeout(120)


def database(kind: Kind, tmp: pytest.TempPathFactory) -> Iterator[ErpDb]:
    reason = unavailable(kind)
    if reason:
        pytest.skip(reason)
    made = ErpDb(kind, tmp.mktemp("erp"))
    try:
        yield made
    finally:
        made.drop()


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ErpDb]:
    yield from database("postgresql", tmp_path_factory)


@pytest.fixture(scope="module")
def maria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ErpDb]:
    yield from database("mariadb", tmp_path_factory)


def entity(name: str, *, table: str | None = None, query: str | None = None,
           cursor: str = "write_date", horizon: str = "cursor") -> SqlEntity:  # fmt: skip
    return SqlEntity(
        name=name,
        table=table,
        query=query,
        columns=(col("id"), col(cursor)),
        key=("id",),
        cursor=cursor,
        cursor_kind="timestamp",
        horizon="xmin" if horizon == "xmin" else "cursor",
    )


def source(db: ErpDb, *extra: SqlEntity, url: str | None = None, **options: float) -> SqlSource:
    return SqlSource(
        url or db.url,
        {**entities(db), **{e.name: e for e in extra}},
        zone="Europe/Rome",
        source_name="erp",
        **options,
    )


def close(made: SqlSource) -> None:
    asyncio.run(made.close())


def stop_after(seconds: float) -> threading.Event:
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    return stop


# -- PostgreSQL ------------------------------------------------------------------


@pytest.mark.parametrize("refused", ["an unknown role", "no such database"])
def test_a_login_postgres_refuses_is_permanent(pg: ErpDb, refused: str) -> None:
    role = f"syncdeck_pw_{uuid.uuid4().hex[:8]}"
    pg.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'right-one'")
    url = {
        "an unknown role": f"postgresql://nobody_{role}:x@127.0.0.1:5432/{pg.name}",
        "no such database": f"postgresql://{role}:right-one@127.0.0.1:5432/no_{role}",
    }[refused]
    reader = source(pg, url=url)
    try:
        with pytest.raises(SourceError) as caught:  # not SourceUnavailable: never retried
            listing(reader, "partners", None, 5)
    finally:
        close(reader)
        pg.execute(f"DROP ROLE {role}")
    text = str(caught.value)  # (trust authentication here: no wrong password to try)
    assert "FATAL" in text and "right-one" not in text and "\n" not in text


def test_a_read_only_postgres_role_reads_and_is_refused_where_it_has_no_grant(pg: ErpDb) -> None:
    role = f"syncdeck_ro_{uuid.uuid4().hex[:8]}"
    pg.execute(
        f"CREATE ROLE {role} LOGIN PASSWORD 'pg-s3cret'",
        f"GRANT USAGE ON SCHEMA erp TO {role}",
        f"GRANT SELECT ON erp.res_partner, erp.sale_order, erp.sale_order_line TO {role}",
    )
    reader = source(pg, url=f"postgresql://{role}:pg-s3cret@127.0.0.1:5432/{pg.name}")
    try:
        assert len(listing(reader, "partners", None, 5)[0]) == 19
        assert len(listing(reader, "orders", None, 5)[1]) == 7
        with pytest.raises(SourceError) as caught:
            listing(reader, "prices", None, 5)
    finally:
        close(reader)
        pg.execute(f"DROP OWNED BY {role}", f"DROP ROLE {role}")
    text = str(caught.value)
    assert "permission denied" in text and 'entity "prices"' in text and 'source "erp"' in text
    assert "pg-s3cret" not in text and f"{role}@127.0.0.1:5432" in text


def test_postgres_reads_in_a_read_only_transaction(pg: ErpDb) -> None:
    pg.execute("CREATE SEQUENCE erp.bump")
    writes = SqlEntity(
        name="writes",
        table="erp.res_partner",
        columns=(col("id"), col("n", "nextval('erp.bump')"), col("write_date")),
        key=("id",),
        cursor="write_date",
        cursor_kind="timestamp",
    )
    reader = source(pg, writes)
    try:
        with pytest.raises(SourceError, match="read-only transaction"):
            listing(reader, "writes", None, 5)
    finally:
        close(reader)


def test_stop_cancels_a_running_postgres_statement(pg: ErpDb) -> None:
    slow = entity("slow", query="SELECT p.id, p.write_date FROM erp.res_partner p, pg_sleep(30)")
    reader = source(pg, slow)
    try:
        began = time.monotonic()
        with pytest.raises(SourceInterrupted, match='entity "slow"'):
            reader.page_blocking("slow", None, None, 5, stop_after(0.3))
        assert time.monotonic() - began < 3
        assert len(listing(reader, "partners", None, 50)[0]) == 19  # the pool still serves
    finally:
        close(reader)


def test_a_postgres_statement_timeout_is_transient(pg: ErpDb) -> None:
    slow = entity("slow", query="SELECT p.id, p.write_date FROM erp.res_partner p, pg_sleep(5)")
    reader = source(pg, slow, query_timeout_s=0.3)
    try:
        with pytest.raises(SourceUnavailable, match="statement timeout"):
            reader.page_blocking("slow", None, None, 5, threading.Event())
    finally:
        close(reader)


def test_the_xmin_horizon_lists_what_changed_since(pg: ErpDb) -> None:
    pg.execute(
        "CREATE TABLE erp.x_partner AS SELECT id, name, write_date FROM erp.res_partner",
        "ALTER TABLE erp.x_partner ADD PRIMARY KEY (id)",
    )
    reader = source(pg, entity("changes", table="erp.x_partner", horizon="xmin"))
    try:
        horizon = reader.snapshot_horizon("changes")
        assert horizon.isdigit()
        pg.execute(
            "UPDATE erp.x_partner SET name = name || '*' WHERE id IN (3, 15)",
            "INSERT INTO erp.x_partner VALUES (40, 'New', '2026-10-20 09:00:00')",
        )
        rows, _, _ = listing(reader, "changes", horizon, 2)
        expected = pg.rows(
            "SELECT id, write_date FROM erp.x_partner WHERE xmin::text::bigint > 2 AND "
            "((xmin::text::bigint - (%s::bigint %% 4294967296) + 4294967296) %% 4294967296) "
            "< 2147483648 AND write_date IS NOT NULL ORDER BY write_date, id",
            (int(horizon),),
        )
        assert rows == expected
        assert {3, 15, 40} <= {row[0] for row in rows}
        assert reader.estimate_blocking("changes", horizon) == len(expected)
        with pytest.raises(SourceError, match="transaction horizon"):
            reader.page_blocking("changes", "2026-10-20T07:00:00Z", None, 5, threading.Event())
    finally:
        close(reader)


def test_an_aware_cursor_is_compared_with_the_instant(pg: ErpDb) -> None:
    pg.execute("CREATE TABLE erp.audit_event (id INTEGER PRIMARY KEY, at TIMESTAMPTZ)")
    pg.execute_many(
        "INSERT INTO erp.audit_event VALUES (%s, %s)", list(enumerate(DST_INSTANTS, start=1))
    )
    reader = source(pg, entity("audit", table="erp.audit_event", cursor="at"))
    try:
        rows, _, _ = listing(reader, "audit", "2026-10-25T00:45:00Z", 2)
    finally:
        close(reader)
    assert [row[0] for row in rows] == [3, 4, 5, 6, 7]  # no repeated hour in UTC
    assert rows[0][1] == datetime(2026, 10, 25, 0, 50, tzinfo=UTC)


# -- MariaDB ---------------------------------------------------------------------


def test_a_mariadb_user_with_select_only_reads_and_is_refused_elsewhere(maria: ErpDb) -> None:
    user = f"ro_{uuid.uuid4().hex[:8]}"
    maria.execute(
        f"CREATE USER '{user}'@'%' IDENTIFIED BY 'my-s3cret'",
        f"GRANT SELECT ON {maria.name}.res_partner TO '{user}'@'%'",
        f"GRANT SELECT ON {maria.name}.sale_order TO '{user}'@'%'",
        f"GRANT SELECT ON {maria.name}.sale_order_line TO '{user}'@'%'",
    )
    reader = source(maria, url=f"mysql://{user}:my-s3cret@127.0.0.1:3306/{maria.name}")
    try:
        assert len(listing(reader, "partners", None, 5)[0]) == 19
        assert len(listing(reader, "orders", None, 5)[1]) == 7
        with pytest.raises(SourceError) as caught:
            listing(reader, "prices", None, 5)
    finally:
        close(reader)
        maria.execute(f"DROP USER '{user}'@'%'")
    text = str(caught.value)
    assert "(1142) SELECT command denied" in text and 'entity "prices"' in text
    assert "my-s3cret" not in text and f"{user}@127.0.0.1:3306" in text


def test_mariadb_reads_in_a_read_only_transaction(maria: ErpDb) -> None:
    maria.execute(
        "CREATE TABLE scratch (a INTEGER)",
        "CREATE FUNCTION bump() RETURNS INTEGER MODIFIES SQL DATA "
        "BEGIN INSERT INTO scratch VALUES (1); RETURN 1; END",
    )
    writes = SqlEntity(
        name="writes",
        table="res_partner",
        columns=(col("id"), col("n", "bump()"), col("write_date")),
        key=("id",),
        cursor="write_date",
        cursor_kind="timestamp",
    )
    reader = source(maria, writes)
    try:
        with pytest.raises(SourceError, match="READ ONLY transaction"):
            listing(reader, "writes", None, 5)
        assert maria.rows("SELECT COUNT(*) FROM scratch") == [(0,)]
    finally:
        close(reader)


@pytest.mark.parametrize("cursor", ["ts", "dt"], ids=["TIMESTAMP", "DATETIME"])
def test_mariadb_one_second_ties_page_through(maria: ErpDb, cursor: str) -> None:
    stamps = entity("stamps", table="stamp_event", cursor=cursor)
    reader = source(maria, stamps)
    try:
        rows, _, pages = listing(reader, "stamps", "2026-10-20T07:00:00Z", 3)
        expected = maria.rows(
            f"SELECT id, {cursor} FROM stamp_event WHERE {cursor} >= %s ORDER BY {cursor}, id",
            (datetime(2026, 10, 20, 9, 0, 0),),
        )
        assert rows == expected and pages == 5
        assert [row[0] for row in rows][:10] == list(range(1, 11))  # one second, ten rows
        later, _, _ = listing(reader, "stamps", "2026-10-20T07:00:00.5Z", 3)
        assert [row[0] for row in later] == ([11, 12, 13] if cursor == "ts" else [])
    finally:
        close(reader)


def test_stop_lets_a_mariadb_page_finish_then_interrupts(maria: ErpDb) -> None:
    slow = entity("slow", query="SELECT id, write_date FROM res_partner WHERE SLEEP(0.05) = 0")
    reader = source(maria, slow)
    try:
        began = time.monotonic()
        with pytest.raises(SourceInterrupted):
            reader.page_blocking("slow", None, None, 100, stop_after(0.2))
        assert time.monotonic() - began >= 0.5  # 19 rows x 50 ms: the page ran to its end
    finally:
        close(reader)


def test_xmin_is_postgres_only(maria: ErpDb) -> None:
    with pytest.raises(SourceError, match="xmin horizon is PostgreSQL's"):
        source(maria, entity("changes", table="res_partner", horizon="xmin"))
    reader = source(maria)
    try:
        with pytest.raises(SourceError, match="PostgreSQL's only"):
            reader.snapshot_horizon("partners")
        assert "(system: " in (reader.check("partners").database_time_zone or "")
    finally:
        close(reader)
