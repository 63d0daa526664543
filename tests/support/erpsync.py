"""End-to-end syncs of an operator's own ERP (`[sources.NAME]`, `[entities.NAME]`), and
the comparison of the replica with the source that does not use syncdeck's code.

The tests write a real `syncdeck.toml` (`write_config`), sync through a real
orchestrator (`running`: in this process, as `syncdeck daemon` builds it; or a
daemon subprocess), then read the ERP with its own driver (`ErpDb.rows`) and the
replica with `sqlite3` opened read-only (`replica_rows`), and normalise both sides
here: a naive timestamp is a wall time in Europe/Rome (the earlier of a repeated
hour), written as UTC ISO-8601 with six fractional digits and `Z`; a Decimal as its
exact text; a boolean as 0 or 1. `Partners` is the ERP table most tests use, and
`Writers` change it from threads while syncs run.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.config import load_settings
from core.models import RunOutcome, RunRecord
from core.orchestrator import Orchestrator
from core.runtime import NO_HOOKS, Hooks, build_orchestrator
from support.erpdb import ErpDb

ROME = ZoneInfo("Europe/Rome")
Row = tuple[Any, ...]

# -- normalising both sides --------------------------------------------------------


def utc_text(value: datetime) -> str:
    """A naive wall time in Europe/Rome (fold 0) or an aware instant, as UTC `...000000Z`."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=ROME)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def exact(value: Decimal) -> str:
    text = str(value)
    assert "E" not in text.upper(), f"{value!r}: an exponent where a NUMERIC was expected"
    return text


def norm(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return exact(value)
    if isinstance(value, datetime):
        return utc_text(value)
    return value


def normalised(rows: Iterable[Row]) -> set[Row]:
    return {tuple(norm(v) for v in row) for row in rows}


def wall_now() -> datetime:
    """Now as Europe/Rome's naive wall time, whole seconds (MariaDB's DATETIME(0))."""
    return datetime.now(UTC).astimezone(ROME).replace(tzinfo=None, microsecond=0)


# -- the replica, read directly ------------------------------------------------------


def replica_rows(data_dir: Path, table: str, columns: str, where: str = "") -> list[Row]:
    """`SELECT columns FROM table [WHERE ...]` on the replica, read-only (WAL: while
    syncdeck writes); an empty list while the file or the table does not exist yet."""
    if not (data_dir / "syncdeck.db").exists():
        return []
    conn = sqlite3.connect(f"file:{data_dir / 'syncdeck.db'}?mode=ro", uri=True, timeout=30)
    try:
        return [tuple(r) for r in conn.execute(f"SELECT {columns} FROM {table} {where}")]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


# -- configuration ---------------------------------------------------------------


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    assert isinstance(value, dict), value
    return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"


def config_text(
    sources: dict[str, dict[str, Any]],
    entities: dict[str, dict[str, Any]],
    *,
    builtin: bool = False,
    batch_size: int = 2000,
    extra: str = "",
) -> str:
    """A `syncdeck.toml`: the built-in four off unless `builtin`, no schedule (the tests
    ask for every run), `[sync] batch_size`, then `extra` as it is."""
    out = [f"[entities]\nbuiltin = {_toml(builtin)}\n", "[schedule]\nenabled = false\n"]
    out.append(f"[sync]\nbatch_size = {batch_size}\n")
    for name, values in sources.items():
        out.append(
            f"[sources.{name}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in values.items())
        )
    for name, values in entities.items():
        lines = "".join(f"{k} = {_toml(v)}\n" for k, v in values.items() if k != "child")
        out.append(f"[entities.{name}]\n{lines}")
        if "child" in values:
            child = "".join(f"{k} = {_toml(v)}\n" for k, v in values["child"].items())
            out.append(f"[entities.{name}.child]\n{child}")
    return "\n".join(out) + extra


def write_config(data_dir: Path, text: str) -> Path:
    """`syncdeck.toml` in the data directory, where every `syncdeck` command finds it."""
    path = data_dir / "syncdeck.toml"
    path.write_text(text, encoding="utf-8")
    return path


def sql_source(url: str | None = None, *, url_file: Path | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"kind": "sql", "timezone": "Europe/Rome"}
    if url_file is not None:
        found["url_file"] = str(url_file)
    else:
        found["url"] = url
    return found


# -- syncing in this process -------------------------------------------------------


@contextlib.asynccontextmanager
async def running(data_dir: Path, hooks: Hooks = NO_HOOKS) -> AsyncIterator[Orchestrator]:
    """A runner orchestrator built from `data_dir`'s `syncdeck.toml` as `syncdeck daemon`
    builds it (the replica checked against the configuration first), no schedule."""
    settings = load_settings(None, data_dir)
    orch = build_orchestrator(settings, runner=True, schedule=False, hooks=hooks)
    await orch.start()
    try:
        yield orch
    finally:
        await orch.stop()


async def sync(orch: Orchestrator, entity: str, mode: str, timeout: float = 180) -> RunRecord:
    """One run of `entity` in `mode`, waited for; it must succeed in that mode."""
    request = await orch.request(entity, mode)
    result = await orch.wait(request.id, timeout=timeout)
    run = result.run
    assert run is not None and result.outcome == RunOutcome.SUCCEEDED, (result, run)
    assert run.mode.value == mode, run
    return run


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` without blocking the event loop (the runner's heartbeat runs there)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout:g}s waiting for {what}"
        await asyncio.sleep(0.05)


# -- the ERP table most tests use ----------------------------------------------------

PARTNER_COLUMNS = "id, name, credit, big, active, write_date"
BIG = Decimal("12345678901234500000.12")
"""Twenty digits before the point: more than a double (or SQLite's REAL) holds exactly."""


class Partners:
    """`partner` in `db`: (id, name, credit NUMERIC(20,2), big NUMERIC(22,2), active,
    write_date); write_date is a naive wall time in Europe/Rome, TIMESTAMP on PostgreSQL
    (microseconds) and DATETIME on MariaDB (whole seconds: ties are common)."""

    def __init__(self, db: ErpDb, table: str = "partner") -> None:
        self.db = db
        self.table = f"{db.prefix}{table}"
        stamp = "TIMESTAMP" if db.kind == "postgresql" else "DATETIME"
        boolean = "BOOLEAN" if db.kind == "postgresql" else "TINYINT(1)"
        db.execute(
            f"CREATE TABLE {self.table} (id INTEGER PRIMARY KEY, name VARCHAR(100), "
            f"credit NUMERIC(20,2), big NUMERIC(22,2), active {boolean} NOT NULL, "
            f"write_date {stamp} NOT NULL)",
            f"CREATE INDEX {table}_by_write ON {self.table} (write_date)",
        )

    def entity(self, source: str, *, lookback_s: float = 0.0) -> dict[str, Any]:
        """The `[entities.NAME]` that reads this table."""
        return {
            "source": source,
            "table": self.table,
            "key": "id",
            "cursor": "write_date",
            "lookback_s": lookback_s,
            "columns": {
                "id": "integer",
                "name": "text",
                "credit": "decimal",
                "big": "decimal",
                "active": "boolean",
                "write_date": "timestamp",
            },
        }

    def seed(self, ids: Iterable[int], stamp: datetime) -> None:
        self.db.insert(
            self.table,
            [(i, f"P{i}", Decimal(i) / 100, BIG + i, i % 2 == 0, stamp) for i in ids],
        )

    def source(self) -> set[Row]:
        return normalised(self.db.rows(f"SELECT {PARTNER_COLUMNS} FROM {self.table}"))

    @staticmethod
    def replica(data_dir: Path, entity: str, *, live: bool = True) -> set[Row]:
        """The replica's rows (live ones, or the soft-deleted ones), keyed as the source."""
        where = "WHERE deleted_at IS NULL" if live else "WHERE deleted_at IS NOT NULL"
        rows = replica_rows(data_dir, entity, f"sync_key, {PARTNER_COLUMNS}", where)
        assert all(key == str(row[0]) for key, *row in rows), "sync_key is the id as text"
        return {tuple(row[1:]) for row in rows}


class Writers:
    """Threads that insert, update and delete `partners` rows until `stop()`; each
    statement is its own transaction, stamped with the ERP's now (PostgreSQL:
    `localtimestamp` in Europe/Rome; MariaDB: the wall time computed just before)."""

    def __init__(self, partners: Partners, live: Iterable[int], threads: int = 3) -> None:
        self.partners = partners
        self.live = set(live)
        self.deleted: set[int] = set()
        self.counts = {"insert": 0, "update": 0, "delete": 0}
        self.next_id = max(self.live, default=0) + 1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._work, args=(n,), name=f"erp-writer-{n}", daemon=True)
            for n in range(threads)
        ]

    def start(self) -> Writers:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        assert not self._errors, self._errors
        assert self.counts["insert"] and self.counts["update"] and self.counts["delete"]

    def done(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    async def more(self, changes: int, timeout: float = 60) -> None:
        """Wait (without blocking the event loop) until `changes` more are committed."""
        target, deadline = self.done() + changes, time.monotonic() + timeout
        while self.done() < target:
            assert not self._errors, self._errors
            assert time.monotonic() < deadline, f"writers stalled at {self.counts}"
            await asyncio.sleep(0.02)

    def _choose(self, rng: random.Random) -> tuple[str, int] | None:
        with self._lock:
            op = rng.choices(("insert", "update", "delete"), (3, 5, 1))[0]
            if op == "insert":
                self.next_id += 1
                self.live.add(self.next_id)
                return op, self.next_id
            if not self.live:
                return None
            key = rng.randrange(1, self.next_id)
            if key not in self.live:
                return None
            if op == "delete":
                self.live.discard(key)
                self.deleted.add(key)
            return op, key

    def _work(self, n: int) -> None:
        rng = random.Random(1000 + n)
        db, table = self.partners.db, self.partners.table
        pg = db.kind == "postgresql"
        conn = db.connect()
        try:
            with conn.cursor() as cur:
                while not self._stop.is_set():
                    chosen = self._choose(rng)
                    if chosen is None:
                        continue
                    op, key = chosen
                    stamp = "localtimestamp" if pg else "%s"
                    args: list[Any] = [] if pg else [wall_now()]
                    credit = Decimal(rng.randrange(0, 10**6)) / 100
                    if op == "insert":
                        cur.execute(
                            f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, {stamp})",
                            [key, f"new {key}", credit, BIG + key, True, *args],
                        )
                    elif op == "update":
                        cur.execute(
                            f"UPDATE {table} SET name = %s, credit = %s, active = NOT active, "
                            f"write_date = {stamp} WHERE id = %s",
                            [f"upd {key} {rng.random():.6f}", credit, *args, key],
                        )
                    else:
                        cur.execute(f"DELETE FROM {table} WHERE id = %s", [key])
                    with self._lock:
                        self.counts[op] += 1
                    time.sleep(0.002)
        except BaseException as exc:  # reported by stop()
            self._errors.append(exc)
        finally:
            conn.close()
