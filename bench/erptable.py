"""The ERP table of bench/sqlsource.py, on the local PostgreSQL or MariaDB server: a database
of the benchmark's own (created, and dropped at the end), one table of partners generated
server-side, and the 0.1% of its rows whose write_date moves later before the incremental.

The table, as an ERP holds it: id bigint primary key, name text, email text (NULL every
50th row), credit_limit numeric(20,2), active boolean, write_date a naive timestamp (wall
time in Europe/Rome) with an index on (write_date, id). The write_dates climb through a
year of wall time, across both of 2024's daylight-saving changes (in the autumn's repeated
hour each wall time occurs once: read as its first occurrence, as syncdeck does).
PostgreSQL generates the rows with `generate_series`, MariaDB from its SEQUENCE engine's
`seq_1_to_N`.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import psycopg
import pymysql

Server = Literal["postgresql", "mariadb"]
SERVERS: tuple[Server, ...] = ("postgresql", "mariadb")
LABELS: dict[Server, str] = {"postgresql": "PostgreSQL", "mariadb": "MariaDB"}
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}

TABLE = "res_partner"
COLUMNS = ("id", "name", "email", "credit_limit", "active", "write_date")
ZONE = ZoneInfo("Europe/Rome")
START = datetime(2024, 1, 1)
SPAN_S = 30_000_000
"""About 347 days of wall time, whatever the number of rows (a row every SPAN_S / N s)."""
CHANGED_SHARE = 0.001
SAMPLE_SEED = 19


@dataclass(frozen=True)
class ErpDatabase:
    server: Server
    name: str

    @property
    def url(self) -> str:
        """The URL syncdeck's configuration gives (`[sources.erp] url`)."""
        if self.server == "postgresql":
            return f"postgresql://postgres@127.0.0.1:5432/{self.name}"
        return f"mariadb://root@127.0.0.1:3306/{self.name}"


def unavailable(server: Server) -> str | None:
    """Why the server cannot be used here, or None."""
    try:
        if server == "postgresql":
            psycopg.connect(PG_ADMIN, connect_timeout=5).close()
        else:
            pymysql.connect(**MARIADB, connect_timeout=5).close()
    except (psycopg.Error, pymysql.Error) as exc:
        return f"{LABELS[server]} unreachable: {str(exc).strip().splitlines()[0]}"
    return None


def pg_connect(db: ErpDatabase) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(db.url, autocommit=True)


def maria_connect(db: ErpDatabase | None, **options: object) -> Any:
    """A PyMySQL connection (untyped: PyMySQL ships no annotations)."""
    return pymysql.connect(**MARIADB, database=db.name if db else None, **options)


def server_version(db: ErpDatabase) -> str:
    if db.server == "postgresql":
        with pg_connect(db) as conn:
            return str(conn.info.parameter_status("server_version"))
    with maria_connect(db) as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        return str(cur.fetchone()[0])


def create(server: Server) -> ErpDatabase:
    """A fresh, empty database of the benchmark's own."""
    db = ErpDatabase(server, f"syncdeck_bench_sql_{uuid.uuid4().hex[:8]}")
    if server == "postgresql":
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {db.name} TEMPLATE template0")
    else:
        with maria_connect(None, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {db.name}")
    return db


def drop(db: ErpDatabase) -> None:
    if db.server == "postgresql":
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {db.name} WITH (FORCE)")
    else:
        with maria_connect(None, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {db.name}")


def generate(db: ErpDatabase, rows: int) -> None:
    """The table with `rows` partners, its index, and fresh planner statistics."""
    step = SPAN_S // rows
    start = START.isoformat(" ")
    if db.server == "postgresql":
        with pg_connect(db) as conn:
            conn.execute(
                f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, name text, email text, "
                "credit_limit numeric(20,2), active boolean, write_date timestamp)"
            )
            conn.execute(
                f"INSERT INTO {TABLE} SELECT i, 'Partner ' || i, CASE WHEN i % 50 = 0 THEN NULL "
                "ELSE 'partner' || i || '@example.com' END, ((i * 7919) % 10000000) / 100.0, "
                f"i % 3 <> 0, timestamp '{start}' + i * interval '{step} seconds' "
                f"FROM generate_series(1::bigint, {rows}) AS i"
            )
            conn.execute(f"CREATE INDEX {TABLE}_by_write_date ON {TABLE} (write_date, id)")
            conn.execute(f"VACUUM ANALYZE {TABLE}")
        return
    with maria_connect(db, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            f"CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY, name TEXT, email TEXT, "
            "credit_limit DECIMAL(20,2), active BOOLEAN, write_date DATETIME(6)) ENGINE=InnoDB"
        )
        cur.execute(
            f"INSERT INTO {TABLE} SELECT seq, CONCAT('Partner ', seq), IF(seq % 50 = 0, NULL, "
            "CONCAT('partner', seq, '@example.com')), ((seq * 7919) % 10000000) / 100, "
            f"seq % 3 <> 0, TIMESTAMP'{start}' + INTERVAL (seq * {step}) SECOND "
            f"FROM seq_1_to_{rows}"
        )
        cur.execute(f"ALTER TABLE {TABLE} ADD INDEX {TABLE}_by_write_date (write_date, id)")
        cur.execute(f"ANALYZE TABLE {TABLE}")
        cur.fetchall()


def count(db: ErpDatabase) -> int:
    if db.server == "postgresql":
        with pg_connect(db) as conn:
            row = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
            assert row is not None
            return int(row[0])
    with maria_connect(db) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {TABLE}")
        return int(cur.fetchone()[0])


def utc_text(wall: datetime) -> str:
    """A naive Europe/Rome wall time as the replica stores it (UTC, microseconds, Z)."""
    moment = wall.replace(tzinfo=ZONE).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def change_rows(db: ErpDatabase, rows: int) -> tuple[int, str]:
    """Move 0.1% of the rows (a seeded sample) to a write_date an hour after the latest;
    returns how many, and that write_date as the replica stores it."""
    changed = max(1, round(rows * CHANGED_SHARE))
    ids = sorted(random.Random(SAMPLE_SEED).sample(range(1, rows + 1), changed))
    stamp = START + timedelta(seconds=(SPAN_S // rows) * rows) + timedelta(hours=1)
    if db.server == "postgresql":
        with pg_connect(db) as conn:
            cur = conn.execute(
                f"UPDATE {TABLE} SET write_date = %s WHERE id = ANY(%s)", (stamp, ids)
            )
            assert cur.rowcount == changed, (cur.rowcount, changed)
    else:
        with maria_connect(db, autocommit=True) as conn, conn.cursor() as cur:
            marks = ", ".join(["%s"] * len(ids))
            done = cur.execute(
                f"UPDATE {TABLE} SET write_date = %s WHERE id IN ({marks})", (stamp, *ids)
            )
            assert done == changed, (done, changed)
    return changed, utc_text(stamp)
