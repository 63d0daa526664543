"""Database URLs: which driver reads one, and how to show one without its password.

`database_url(url)` maps a URL as an operator writes it to the SQLAlchemy URL of the one
driver syncdeck uses for its database, and names the dialect. So `postgresql://` goes to
psycopg 3, `mysql://` and `mariadb://` to PyMySQL, `mssql://` to pymssql, `oracle://` to
python-oracledb, `sqlite:///path` to the standard library. A URL of any other scheme or
driver raises `SourceError`, naming the URL without its password. `redact(url)` drops
the password from a URL; `scrub(text, secrets)` removes passwords from a message (a
server's or a driver's), percent-encoded or not. Nothing here imports SQLAlchemy or a
driver.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from core.errors import SourceError

Dialect = Literal["postgresql", "mysql", "sqlite", "mssql", "oracle"]

DRIVERS: dict[str, tuple[Dialect, str]] = {
    "postgresql": ("postgresql", "postgresql+psycopg"),
    "postgres": ("postgresql", "postgresql+psycopg"),
    "postgresql+psycopg": ("postgresql", "postgresql+psycopg"),
    "mysql": ("mysql", "mysql+pymysql"),
    "mariadb": ("mysql", "mysql+pymysql"),
    "mysql+pymysql": ("mysql", "mysql+pymysql"),
    "mariadb+pymysql": ("mysql", "mysql+pymysql"),
    "sqlite": ("sqlite", "sqlite"),
    "sqlite+pysqlite": ("sqlite", "sqlite"),
    "mssql": ("mssql", "mssql+pymssql"),
    "mssql+pymssql": ("mssql", "mssql+pymssql"),
    "oracle": ("oracle", "oracle+oracledb"),
    "oracle+oracledb": ("oracle", "oracle+oracledb"),
}
"""A URL's scheme (lower case) -> its dialect and the scheme SQLAlchemy is given."""


def redact(url: str) -> str:
    """The URL without its password, fit for a log line or an error."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}@{host}" if parts.username else host
    return urlunsplit(parts._replace(netloc=netloc))


def secrets_of(url: str) -> list[str]:
    """The URL's password as written and percent-decoded (none: an empty list)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    if not password:
        return []
    return sorted({password, unquote(password)}, key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every secret replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def database_url(url: str) -> tuple[Dialect, str]:
    """The dialect and the URL SQLAlchemy opens (with the driver spelt out); SourceError
    for a URL syncdeck has no driver for."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        raise SourceError(
            f"source.url {redact(url)!r} is not a database URL, "
            "e.g. postgresql://reader@host/erp or sqlite:///path/to/erp.db"
        )
    found = DRIVERS.get(scheme.lower())
    if found is None:
        known = "postgresql, mysql, mariadb, sqlite, mssql, oracle"
        raise SourceError(
            f"source.url {redact(url)!r}: no driver for {scheme!r} (syncdeck reads {known})"
        )
    dialect, driver = found
    return dialect, f"{driver}://{rest}"
