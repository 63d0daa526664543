"""Per dialect, the statements that make each read of the SQL source one short read-only
transaction, and the driver settings around them. Data, so the tests compare it as it is.

Every page (with its child rows), count and probe runs in one transaction that the source
opens itself, on a connection in driver autocommit (so nothing else opens one), and ends
with COMMIT (ROLLBACK after a failure):

- postgresql: `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY` (and once per connection
  `SET statement_timeout`, `SET lock_timeout`);
- mysql (MariaDB too): once per connection `SET SESSION TRANSACTION ISOLATION LEVEL
  REPEATABLE READ`, then `START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY`;
- sqlite: once `PRAGMA query_only = ON`, then `BEGIN`;
- mssql: once `SET TRANSACTION ISOLATION LEVEL SNAPSHOT`, then `BEGIN TRANSACTION`;
- oracle: `SET TRANSACTION READ ONLY`.

- SQL Server: SNAPSHOT reads take no shared locks, so they never block the ERP's writers,
  but the database must allow them (`ALTER DATABASE erp SET ALLOW_SNAPSHOT_ISOLATION ON`);
  without it every read fails with error 3952, a permanent `SourceError` saying so. There
  is no fallback to REPEATABLE READ on purpose: it holds shared locks on every row read
  until the page commits, which blocks the ERP's updates of those rows meanwhile.
- Oracle: the one dialect NOT in driver autocommit: python-oracledb's autocommit commits
  after every statement, which would end `SET TRANSACTION READ ONLY`'s transaction
  before the SELECT. Untested here (no server).
- SQLite: `BEGIN` is deferred; in rollback-journal mode a reader's lock makes a writer
  wait to commit for the page's length (WAL mode has no such wait).

Timeouts:
- PostgreSQL: the statement and lock timeouts are session settings (above).
- MySQL: the query timeout is PyMySQL's socket read timeout, and `lock_wait_timeout`
  bounds a wait on a table's metadata lock (an ALTER TABLE).
- SQL Server: pymssql's `timeout` with `SET LOCK_TIMEOUT`.
- Oracle: the driver's `call_timeout`.

A lock wait that runs out is a transient failure, retried later: the source never queues
for long behind the ERP's DDL.

Nothing here imports SQLAlchemy or a driver, except `sqlite_converters()` (sqlite3).
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from core.sources.sql.urls import Dialect

LOCK_TIMEOUT_S = 5.0
"""How long a read waits for a lock (an ALTER TABLE in progress) before failing, transiently."""


class ReadOnly(NamedTuple):
    session: tuple[str, ...]
    """Run once on each new connection."""
    begin: tuple[str, ...]
    """Open each read's transaction."""
    commit: str
    rollback: str
    autocommit: bool
    """Whether the connection is in driver autocommit (see the module's docstring)."""


READ_ONLY: dict[Dialect, ReadOnly] = {
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
}

TIME_ZONE: dict[Dialect, str | None] = {
    "postgresql": "SHOW TimeZone",
    "mysql": "SELECT @@session.time_zone, @@system_time_zone",
    "sqlite": None,  # no time zone: SQLite stores what it is given
    "mssql": "SELECT CURRENT_TIMEZONE()",
    "oracle": "SELECT SESSIONTIMEZONE, DBTIMEZONE FROM dual",
}
"""The query for the database's own time zone setting (`SqlCheck.database_time_zone`)."""


def session_statements(dialect: Dialect, query_timeout_s: float) -> tuple[str, ...]:
    """What runs once on each new connection: the read-only setup, then the timeouts."""
    query_ms, lock_ms = round(query_timeout_s * 1000), round(LOCK_TIMEOUT_S * 1000)
    limits: tuple[str, ...] = ()
    if dialect == "postgresql":
        limits = (f"SET statement_timeout = {query_ms}", f"SET lock_timeout = {lock_ms}")
    elif dialect == "mysql":
        limits = (f"SET SESSION lock_wait_timeout = {max(1, math.ceil(LOCK_TIMEOUT_S))}",)
    elif dialect == "mssql":
        limits = (f"SET LOCK_TIMEOUT {lock_ms}",)
    return READ_ONLY[dialect].session + limits


def connect_args(
    dialect: Dialect, connect_timeout_s: float, query_timeout_s: float
) -> dict[str, Any]:
    """The driver's own connect arguments: its timeouts (and SQLite's type converters)."""
    if dialect == "postgresql":
        return {"connect_timeout": max(2, math.ceil(connect_timeout_s))}  # libpq: whole s, >= 2
    if dialect == "mysql":
        return {
            "connect_timeout": connect_timeout_s,
            "read_timeout": query_timeout_s,
            "write_timeout": query_timeout_s,
        }
    if dialect == "sqlite":
        import sqlite3

        return {
            "timeout": connect_timeout_s,
            "detect_types": sqlite3.PARSE_DECLTYPES,
            "check_same_thread": False,  # the pool hands a connection to one thread at a time
        }
    if dialect == "mssql":
        return {
            "login_timeout": math.ceil(connect_timeout_s),
            "timeout": math.ceil(query_timeout_s),
        }
    return {"tcp_connect_timeout": connect_timeout_s}  # oracle


def _decimal(raw: bytes) -> Decimal | str:
    text = raw.decode("ascii", "replace")
    try:
        return Decimal(text)
    except InvalidOperation:
        return text  # a NUMERIC column holding text: as it is


def sqlite_converters() -> None:
    """SQLite has no decimal type: a value written to a NUMERIC or DECIMAL column is kept
    as an integer when it is one, else as an 8-byte float. That float keeps 15
    significant digits of what was written (`12345678901234567890.12` is stored as
    1.23456789012346e+19, and no reader can tell more). sqlite3 would return that float.
    These converters are registered process-wide and used by connections opened with
    PARSE_DECLTYPES (the SQL source's only). With them, a column declared NUMERIC or
    DECIMAL comes back instead as the Decimal of SQLite's own 15-digit text of it:
    `0.1 + 0.2` reads as Decimal('0.3'), never as a float. An exact decimal of more than
    15 digits needs a TEXT column (returned as str). Timestamps and dates stay text
    (SQLite's TEXT), as sqlite3 returns them without converters; the default `timestamp`
    and `date` converters, which fail on ISO text with a 'T', are replaced by ones that
    keep the text."""
    import sqlite3

    for name in ("NUMERIC", "DECIMAL"):
        sqlite3.register_converter(name, _decimal)
    for name in ("TIMESTAMP", "DATE"):
        sqlite3.register_converter(name, lambda raw: raw.decode("utf-8", "replace"))
