"""The SQL source without a server: the per-dialect read-only statements, the page SELECT
as SQL Server and Oracle would receive it (compiled by SQLAlchemy's dialects, which need
no driver), URLs and their passwords, the mapping checks made at construction, and how
a driver's error is classified."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import psycopg
import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from support.erpdb import col

from core.errors import SourceError, SourceUnavailable
from core.sources.sql import statements
from core.sources.sql.dialects import READ_ONLY, ReadOnly, session_statements
from core.sources.sql.failures import classify
from core.sources.sql.mapping import SqlChild, SqlEntity
from core.sources.sql.source import SqlSource
from core.sources.sql.urls import Dialect, database_url, redact, scrub, secrets_of

ITEMS = SqlEntity(
    name="items",
    table="Sales.price_list_item",
    columns=(col("list_id"), col("product_id"), col("email", "lower(email)"), col("write_date")),
    key=("list_id", "product_id"),
    cursor="write_date",
    cursor_kind="timestamp",
)
LAST = (datetime(2026, 10, 25, 2), 7, 9)


def dialect_of(name: Dialect) -> sa.Dialect:
    """SQLAlchemy's dialect, without its driver (none is needed to compile)."""
    return sa.make_url(f"{name}://").get_dialect()()


def compiled(dialect: sa.Dialect, since: Any, last: Any) -> str:
    name: Dialect = dialect.name  # type: ignore[assignment]
    select = statements.page(ITEMS, name, since, last, 4)
    return " ".join(str(select.compile(dialect=dialect)).split())


def test_the_read_only_statements() -> None:
    assert {
        "postgresql": ReadOnly(
            (), ("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",), "COMMIT", "ROLLBACK", True
        ),
        "mysql": ReadOnly(
            ("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",),
            ("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",),
            "COMMIT",
            "ROLLBACK",
            True,
        ),
        "sqlite": ReadOnly(("PRAGMA query_only = ON",), ("BEGIN",), "COMMIT", "ROLLBACK", True),
        "mssql": ReadOnly(
            ("SET TRANSACTION ISOLATION LEVEL SNAPSHOT",),
            ("BEGIN TRANSACTION",),
            "COMMIT TRANSACTION",
            "ROLLBACK TRANSACTION",
            True,
        ),
        "oracle": ReadOnly((), ("SET TRANSACTION READ ONLY",), "COMMIT", "ROLLBACK", False),
    } == READ_ONLY
    assert session_statements("postgresql", 300) == (
        "SET statement_timeout = 300000",
        "SET lock_timeout = 5000",
    )
    assert session_statements("mssql", 300) == (
        "SET TRANSACTION ISOLATION LEVEL SNAPSHOT",
        "SET LOCK_TIMEOUT 5000",
    )


@pytest.mark.parametrize(
    ("dialect", "bind"),
    [
        (dialect_of("mssql"), r":after_(\d)"),
        (dialect_of("oracle"), r":after_(\d)"),
        (dialect_of("postgresql"), r"%\(after_(\d)\)s"),
    ],
    ids=["mssql", "oracle", "postgresql"],
)
def test_the_next_page_is_a_written_out_comparison(dialect: sa.Dialect, bind: str) -> None:
    text = re.sub(bind, r":k\1", compiled(dialect, datetime(2026, 10, 20), LAST))
    assert (
        "WHERE list_id IS NOT NULL AND product_id IS NOT NULL AND write_date >= :k0 AND "
        "(write_date > :k0 OR (write_date = :k0 AND (list_id > :k1 OR (list_id = :k1 AND "
        "product_id > :k2)))) ORDER BY write_date, list_id, product_id"
    ) in text
    full = re.sub(bind, r":k\1", compiled(dialect, None, LAST[1:]))
    assert (
        "list_id >= :k0 AND (list_id > :k0 OR (list_id = :k0 AND product_id > :k1)) "
        "ORDER BY list_id, product_id"
    ) in full
    for sql in (text, full):
        assert not re.search(r"\(\s*\w+\s*,\s*\w+[^)]*\)\s*[<>]", sql)  # no row value
        assert "OFFSET" not in sql.upper()


def test_each_dialect_limits_and_quotes_its_own_way() -> None:
    first = compiled(dialect_of("mssql"), None, None)
    assert first.startswith("SELECT TOP __[POSTCOMPILE_param_1] list_id AS list_id")
    assert "FROM [Sales].price_list_item" in first
    ora = compiled(dialect_of("oracle"), None, None)
    assert ora.endswith("FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY")
    assert 'FROM "Sales".price_list_item' in ora
    assert compiled(dialect_of("mysql"), None, None).endswith(
        "ORDER BY list_id, product_id LIMIT %s"
    )
    assert compiled(dialect_of("sqlite"), None, None).endswith(
        "ORDER BY list_id, product_id LIMIT 4"
    )


def test_sqlalchemys_tuple_comparison_is_what_the_source_avoids() -> None:
    """Control: `tuple_() >` compiles to a row value even for SQL Server, which has none."""
    a: sa.ColumnElement[Any] = sa.literal_column("a")
    b: sa.ColumnElement[Any] = sa.literal_column("b")
    row = sa.tuple_(a, b) > sa.tuple_(sa.literal(1), sa.literal(2))
    assert "(a, b) >" in str(row.compile(dialect=dialect_of("mssql")))


def test_a_query_keeps_its_colons_and_percents() -> None:
    query = SqlEntity(
        name="q",
        query="SELECT * FROM t WHERE a LIKE 'x%' AND b = '10:30' AND c = ':y' AND d::text = 'z'",
        columns=(col("id"), col("c")),
        key=("id",),
        cursor="c",
        cursor_kind="text",
    )
    page = statements.page(query, "oracle", None, None, 4)
    text = str(page.compile(dialect=dialect_of("oracle")))
    assert (
        "(SELECT * FROM t WHERE a LIKE 'x%' AND b = '10:30' AND c = ':y' AND d::text = 'z') src"
        in text
    )
    assert set(page.compile().params) == {"param_1"}  # the query's `:y` is no parameter


def test_children_are_read_by_parent_keys_in_batches_an_in_list_allows() -> None:
    child = SqlChild(table="lines", parent="order_id", columns=(col("id"),), key=("id",))
    text = str(statements.children(child, [1, 2]).compile(dialect=dialect_of("oracle")))
    assert "WHERE order_id IN (__[POSTCOMPILE_parents]) ORDER BY order_id, id" in text


@pytest.mark.parametrize(
    ("url", "dialect", "driver"),
    [
        ("postgresql://u:p@h/db", "postgresql", "postgresql+psycopg://u:p@h/db"),
        ("postgres://h/db", "postgresql", "postgresql+psycopg://h/db"),
        ("mysql://u@h:3306/db", "mysql", "mysql+pymysql://u@h:3306/db"),
        ("mariadb://u@h/db", "mysql", "mysql+pymysql://u@h/db"),
        ("sqlite:////tmp/erp.db", "sqlite", "sqlite:////tmp/erp.db"),
        ("mssql://u:p@h/erp", "mssql", "mssql+pymssql://u:p@h/erp"),
        (
            "oracle://u:p@h:1521/?service_name=erp",
            "oracle",
            "oracle+oracledb://u:p@h:1521/?service_name=erp",
        ),
    ],
)
def test_database_urls(url: str, dialect: str, driver: str) -> None:
    assert database_url(url) == (dialect, driver)


def test_urls_are_shown_without_their_password() -> None:
    assert redact("postgresql://reader:p%40ss@db:5432/erp") == "postgresql://reader@db:5432/erp"
    assert redact("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    secrets = secrets_of("mysql://u:p%40ss@h/db")
    assert scrub("denied for p@ss and p%40ss", secrets) == "denied for *** and ***"
    with pytest.raises(SourceError, match="no driver for 'mongodb'") as caught:
        database_url("mongodb://u:hunter2@h/db")
    assert "hunter2" not in str(caught.value)


def entity(**changes: Any) -> SqlEntity:
    fields: dict[str, Any] = {
        "name": "e",
        "table": "t",
        "columns": (col("id"), col("write_date")),
        "key": ("id",),
        "cursor": "write_date",
        "cursor_kind": "timestamp",
    }
    return SqlEntity(**{**fields, **changes})


@pytest.mark.parametrize(
    ("url", "mapping", "words"),
    [
        ("sqlite:///x.db", entity(table=None), "exactly one of table and query"),
        ("sqlite:///x.db", entity(query="SELECT 1"), "exactly one of table and query"),
        ("sqlite:///x.db", entity(key=("nope",)), "nope not among its columns"),
        ("sqlite:///x.db", entity(cursor="when"), "when not among its columns"),
        ("sqlite:///x.db", entity(horizon="xmin"), "xmin horizon is PostgreSQL's"),
        (
            "sqlite:///x.db",
            entity(
                columns=(col("a"), col("b"), col("write_date")),
                key=("a", "b"),
                child=SqlChild(table="c", parent="p", columns=(col("id"),), key=("id",)),
            ),
            "composite key cannot have children",
        ),
        (
            "sqlite:///x.db",
            entity(child=SqlChild(table="c", parent="p", columns=(col("id"),), key=("k",))),
            "child's key",
        ),
    ],
)
def test_a_mapping_it_cannot_read_is_refused_at_construction(
    url: str, mapping: SqlEntity, words: str
) -> None:
    with pytest.raises(SourceError, match=words) as caught:
        SqlSource(url, {"e": mapping}, source_name="erp")
    assert 'sql source "erp" (sqlite:///x.db), entity "e": ' in str(caught.value)


def test_a_bad_zone_is_refused() -> None:
    with pytest.raises(SourceError, match="zone 'Mars/Olympus' is not a time zone"):
        SqlSource("sqlite:///x.db", {}, zone="Mars/Olympus", source_name="erp")


def pg_error(state: str) -> BaseException:
    orig = psycopg.errors.lookup(state)("server said no")
    wrapper = (
        sa_exc.OperationalError
        if isinstance(orig, psycopg.OperationalError)
        else sa_exc.ProgrammingError
    )
    return wrapper("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    ("state", "transient"),
    [
        ("08006", True),
        ("40001", True),
        ("40P01", True),
        ("57014", True),
        ("55P03", True),
        ("57P01", True),
        ("53300", True),
        ("42501", False),
        ("42P01", False),
        ("42703", False),
        ("42601", False),
        ("28P01", False),
        ("25006", False),
    ],
)
def test_postgres_errors_by_sqlstate(state: str, transient: bool) -> None:
    expected = SourceUnavailable if transient else SourceError
    assert classify(pg_error(state), "postgresql") is expected


@pytest.mark.parametrize(
    ("errno", "transient"),
    [(n, True) for n in (2002, 2003, 2006, 2013, 1205, 1213, 1040, 1053)]
    + [(n, False) for n in (1142, 1143, 1044, 1045, 1146, 1054, 1064, 1792)],
)
def test_mysql_errors_by_errno(errno: int, transient: bool) -> None:
    failure = sa_exc.OperationalError("SELECT 1", {}, pymysql.err.OperationalError(errno, "no"))
    assert classify(failure, "mysql") is (SourceUnavailable if transient else SourceError)


def test_an_operational_error_without_a_code_is_transient() -> None:
    refused = sa_exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("refused"))
    assert classify(refused, "postgresql") is SourceUnavailable
    assert classify(sa_exc.TimeoutError("pool"), "mysql") is SourceUnavailable
    assert classify(ValueError("odd"), "mysql") is SourceError
