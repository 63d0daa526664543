"""How the SQL source classifies a database failure, and the one line that reports it.

`classify(exc, dialect)` returns `SourceUnavailable` (transient: retried with backoff)
or `SourceError` (permanent: the mapping or the grants need an operator):

- PostgreSQL, by SQLSTATE. Transient: class 08 (connection), 53 (resources: too many
  connections), 57 (operator intervention: a cancelled statement, a shutdown), 58
  (system), 40001 (serialization), 40P01 (deadlock), 55P03 (lock not available).
  Permanent: class 42 (no such table or column, syntax, permission denied), 28
  (authentication), 3D (no such database) and every other code. No code at all (the
  server refused or dropped the connection) is transient, unless the server's `FATAL`
  line refuses the login for good (an unknown role or database, a wrong password, no
  `pg_hba.conf` entry): libpq reports those with no code.
- MySQL/MariaDB, by errno. Transient: 2002/2003/2005/2006/2013 (no server, gone, lost),
  1205 (lock wait timeout), 1213 (deadlock), 1040 (too many connections), 1053
  (shutdown), 1927 (killed), 1317/1969/3024 (interrupted, statement time). Permanent:
  1142/1143 (no grant on a table or column), 1044/1045 (access denied), 1049 (no such
  database), 1146 (no such table), 1054 (no such column), 1064 (syntax) and other codes.
- SQLite: busy or locked are transient, everything else permanent.
- SQL Server and Oracle: the usual connection, deadlock and lock-timeout numbers are
  transient (untested here: no server).
- Whatever the dialect: an `OperationalError` or `InterfaceError` with no code, a
  connection SQLAlchemy saw die, or no connection from the pool in time are transient;
  any other code (MySQL's client errors 2xxx aside) or failure is permanent.

`message(exc)` is the database's own message on one line. Imports sqlalchemy.exc.
"""

from __future__ import annotations

import re

from sqlalchemy import exc as sa_exc

from core.errors import SourceError, SourceUnavailable
from core.sources.sql.urls import Dialect

Failure = type[SourceError] | type[SourceUnavailable]

PG_TRANSIENT_CLASSES = ("08", "53", "57", "58")
PG_TRANSIENT = {"40001", "40P01", "55P03"}
MYSQL_TRANSIENT = {2002, 2003, 2005, 2006, 2013, 1205, 1213, 1040, 1053, 1927, 1317, 1969, 3024}
MYSQL_PERMANENT = {1142, 1143, 1044, 1045, 1049, 1146, 1054, 1064}
MSSQL_TRANSIENT = {-2, 1205, 1222, 233, 10053, 10054, 10060, 20009, 20047, 40613}
ORACLE_TRANSIENT = {60, 1013, 3113, 3114, 3135, 8177, 12170, 12514, 12541, 12543}
SQLITE_TRANSIENT = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
PG_LOGIN_REFUSED = re.compile(
    r'FATAL:\s+(role "[^"]*" does not exist|database "[^"]*" does not exist|password '
    r"authentication failed|no pg_hba\.conf entry|permission denied for database|"
    r"(Ident|Peer|LDAP|RADIUS|certificate) authentication failed)"
)
"""A PostgreSQL login the server refuses for good (SQLSTATE 28xxx, 3D000, 42501), as the
message libpq gives without a code (the server's messages in English, its default)."""


def _code(orig: BaseException, dialect: Dialect) -> str | int | None:
    """The driver's error code: SQLSTATE (psycopg), errno (PyMySQL, pymssql), ORA number,
    SQLite's result code."""
    if dialect == "postgresql":
        state = getattr(orig, "sqlstate", None)
        return state if isinstance(state, str) else None
    if dialect == "sqlite":
        code = getattr(orig, "sqlite_errorcode", None)
        return code & 0xFF if isinstance(code, int) else None
    first = orig.args[0] if orig.args else None
    if dialect == "oracle":
        first = getattr(first, "code", first)
    return first if isinstance(first, int) and not isinstance(first, bool) else None


def _by_code(code: str | int, dialect: Dialect) -> bool | None:
    """True: transient, False: permanent, None: the code says nothing either way."""
    if dialect == "postgresql" and isinstance(code, str):
        return code[:2] in PG_TRANSIENT_CLASSES or code in PG_TRANSIENT
    if dialect == "mysql":
        if code in MYSQL_TRANSIENT:
            return True
        return False if code in MYSQL_PERMANENT else None
    if dialect == "sqlite":
        return code in SQLITE_TRANSIENT
    if dialect == "mssql":
        return True if code in MSSQL_TRANSIENT else None
    if dialect == "oracle":
        return True if code in ORACLE_TRANSIENT else None
    return None


def classify(exc: BaseException, dialect: Dialect) -> Failure:
    """Transient or permanent (see the module's docstring)."""
    if isinstance(exc, sa_exc.TimeoutError):  # no connection from the pool in time
        return SourceUnavailable
    if not isinstance(exc, sa_exc.DBAPIError):
        return SourceError
    if exc.connection_invalidated:
        return SourceUnavailable
    orig = exc.orig
    code = _code(orig, dialect) if orig is not None else None
    if code is None:
        if dialect == "postgresql" and PG_LOGIN_REFUSED.search(str(orig)):
            return SourceError
        gone = isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
        return SourceUnavailable if gone else SourceError
    transient = _by_code(code, dialect)
    if transient is None:  # a code of no known kind: a client error is a connection's
        transient = dialect == "mysql" and isinstance(code, int) and 2000 <= code < 3000
    return SourceUnavailable if transient else SourceError


def message(exc: BaseException) -> str:
    """The database's (or driver's) own words, on one line, without SQLAlchemy's wrapping."""
    orig = getattr(exc, "orig", None)
    source = orig if isinstance(orig, BaseException) else exc
    args = source.args
    if len(args) >= 2 and isinstance(args[0], int) and isinstance(args[1], str | bytes):
        first = args[1].decode("utf-8", "replace") if isinstance(args[1], bytes) else args[1]
        text = f"({args[0]}) {first}"  # PyMySQL, pymssql: (errno, text)
    else:
        text = str(source) or type(source).__name__
    return " ".join(text.split())
