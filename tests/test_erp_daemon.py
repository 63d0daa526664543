"""`syncdeck daemon` subprocesses syncing an operator's own ERP (PostgreSQL and MariaDB
databases of their own, dropped after), compared with the source without syncdeck's code.

It shows:
- a daemon SIGKILLed in the middle of a full sync from PostgreSQL (some batches
  committed, small `[sync] batch_size`): the next daemon runs the requeued request to
  the end, and no row is lost or duplicated, the children neither;
- twelve entities on two sources (six on PostgreSQL, six on MariaDB, one with a child
  table on each; the built-in four are off, `[entities] builtin = false`) through one
  daemon, in full then incrementally: no two runs overlap (`syncdeck history --json`),
  and every entity's replica equals its source;
- a mapping that removes a column is refused at the daemon's start (exit 2, one line with
  the `syncdeck replica rebuild ENTITY` hint, the replica untouched); after `replica
  rebuild` a new daemon runs, and the next run is a full one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SYNCDECK
from support.erpdb import ErpDb, empty_erp
from support.erpsync import (
    Partners,
    Row,
    config_text,
    normalised,
    replica_rows,
    sql_source,
    wall_now,
    write_config,
)
from support.procs import Daemons, cli, cli_json, stop, wait_until

from core.config import load_settings
from core.models import RunOutcome
from core.runtime import build_orchestrator

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SYNCDECK_"):
            monkeypatch.delenv(key)


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[ErpDb]:
    yield from empty_erp("postgresql", tmp_path)


@pytest.fixture
def maria(tmp_path: Path) -> Iterator[ErpDb]:
    yield from empty_erp("mariadb", tmp_path)


@pytest.fixture
def daemons(cli_env: dict[str, str], tmp_path: Path) -> Iterator[Daemons]:
    made = Daemons(cli_env, tmp_path)
    try:
        yield made
    finally:
        made.close()


class Orders:
    """`orders_N` and their lines (`order_lines_N`, a child table), 0 to 3 lines each."""

    def __init__(self, db: ErpDb, suffix: str) -> None:
        self.db, p = db, db.prefix
        self.table, self.lines = f"{p}orders_{suffix}", f"{p}order_lines_{suffix}"
        stamp = "TIMESTAMP" if db.kind == "postgresql" else "DATETIME"
        db.execute(
            f"CREATE TABLE {self.table} (id INTEGER PRIMARY KEY, name VARCHAR(20), "
            f"amount NUMERIC(20,2), write_date {stamp} NOT NULL)",
            f"CREATE TABLE {self.lines} (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL, "
            "product VARCHAR(20), qty NUMERIC(12,3), price NUMERIC(20,2))",
        )

    def add(self, ids: range, stamp: datetime) -> None:
        self.db.insert(self.table, [(i, f"SO{i}", Decimal(f"{i}.10"), stamp) for i in ids])
        lines = [(i * 10 + n, i, f"prod-{n}", Decimal("1.500"), Decimal(f"{n}.99"))
                 for i in ids for n in range(i % 4)]  # fmt: skip
        if lines:
            self.db.insert(self.lines, lines)

    def entity(self, source: str, name: str) -> dict[str, Any]:
        return {
            "source": source,
            "table": self.table,
            "key": "id",
            "cursor": "write_date",
            "columns": {"id": "integer", "name": "text", "amount": "decimal",
                        "write_date": "timestamp"},
            "child": {"name": f"{name}_lines", "table": self.lines, "parent": "order_id",
                      "key": "id", "columns": {"id": "integer", "order_id": "integer",
                                               "product": "text", "qty": "decimal",
                                               "price": "decimal"}},
        }  # fmt: skip

    def source(self) -> tuple[set[Row], set[Row]]:
        orders = self.db.rows(f"SELECT id, name, amount, write_date FROM {self.table}")
        lines = self.db.rows(
            f"SELECT order_id, id, order_id, product, qty, price FROM {self.lines}"
        )
        return normalised(orders), {(str(r[0]), *r[1:]) for r in normalised(lines)}

    @staticmethod
    def replica(data_dir: Path, name: str) -> tuple[set[Row], set[Row]]:
        orders = replica_rows(data_dir, name, "id, name, amount, write_date",
                              "WHERE deleted_at IS NULL")  # fmt: skip
        lines = replica_rows(data_dir, f"{name}_lines", "sync_parent, id, order_id, product, "
                             "qty, price")  # fmt: skip
        return set(orders), set(lines)


def pg_seed(partners: Partners, rows: int, stamp: datetime) -> None:
    """`rows` partners in one statement (PostgreSQL)."""
    partners.db.execute(
        f"INSERT INTO {partners.table} SELECT g, 'P' || g, g / 100.0, "
        f"12345678901234500000.12 + g, g % 2 = 0, '{stamp.isoformat(' ')}'::timestamp "
        "FROM generate_series(1, " + str(rows) + ") g"
    )


# -- SIGKILL mid-full ---------------------------------------------------------------

KILL_ROWS = 40_000


def test_a_daemon_killed_mid_full_sync_loses_and_duplicates_nothing(
    pg: ErpDb, daemons: Daemons, data_dir: Path, cli_env: dict[str, str]
) -> None:
    partners = Partners(pg)
    pg_seed(partners, KILL_ROWS, wall_now() - timedelta(hours=1))
    orders = Orders(pg, "k")
    orders.add(range(1, 3001), wall_now() - timedelta(hours=1))
    entities = {"partners": partners.entity("erp"), "orders": orders.entity("erp", "orders")}
    write_config(data_dir, config_text({"erp": sql_source(pg.url)}, entities, batch_size=100))
    first = daemons.start()
    waiting = subprocess.Popen(  # waits for its request across both daemons
        [*SYNCDECK, "sync", "partners", "--mode", "full", "--wait", "--json", "--timeout", "240"],
        env=cli_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:

        def some_batches_committed() -> int | None:
            count = replica_rows(data_dir, "partners", "count(*)")
            return count[0][0] if count and count[0][0] >= 1000 else None

        at_kill = wait_until(some_batches_committed, 120, "batches committed", daemons.tails)
        daemons.sigkill(first)
        committed = replica_rows(data_dir, "partners", "count(*)")[0][0]
        assert at_kill <= committed < KILL_ROWS, "the kill came after the run had ended"
        second = daemons.start()

        def requeued_run_ended() -> bool:
            assert second.poll() is None, daemons.tails()
            return waiting.poll() is not None

        wait_until(requeued_run_ended, 240, "the requeued run", daemons.tails)
        out, err = waiting.communicate(timeout=10)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate()
    assert waiting.returncode == 0, f"{out}\n{err}\n{daemons.tails()}"
    result = json.loads(out)
    assert result["outcome"] == "succeeded" and result["run"]["mode"] == "full", result
    runs = cli_json(cli_env, "history", "partners")
    assert sorted(run["outcome"] for run in runs) == ["interrupted", "succeeded"], runs

    rows = replica_rows(data_dir, "partners", "sync_key, id, name, credit, big, active, "
                        "write_date, deleted_at")  # fmt: skip
    assert len(rows) == len({row[0] for row in rows}) == KILL_ROWS  # none twice, none lost
    assert all(row[-1] is None for row in rows)
    assert {tuple(row[1:-1]) for row in rows} == partners.source()
    # The other entity, with its children, through the same (new) daemon.
    assert cli(cli_env, "sync", "orders", "--wait").returncode == 0
    assert Orders.replica(data_dir, "orders") == orders.source()


# -- twelve entities, two sources, one daemon ---------------------------------------


def twelve(pg: ErpDb, maria: ErpDb) -> tuple[dict[str, Partners], dict[str, Orders]]:
    partners, orders = {}, {}
    for db, tag in ((pg, "pg"), (maria, "my")):
        for n in range(1, 6):
            partners[f"{tag}_partners_{n}"] = Partners(db, f"partner_{n}")
        orders[f"{tag}_orders"] = Orders(db, tag)
    return partners, orders


async def request_all(data_dir: Path, names: list[str], mode: str) -> None:
    """Queue a run of every entity at once (a client, not a runner), and wait for each."""
    client = build_orchestrator(load_settings(None, data_dir), runner=False, schedule=False)
    async with client:
        requests = [await client.request(name, mode) for name in names]
        for request in requests:
            result = await client.wait(request.id, timeout=240)
            assert result.outcome == RunOutcome.SUCCEEDED, result


def test_twelve_entities_on_two_sources_run_one_at_a_time_and_all_arrive(
    pg: ErpDb, maria: ErpDb, daemons: Daemons, data_dir: Path, cli_env: dict[str, str]
) -> None:
    partners, orders = twelve(pg, maria)
    old = wall_now() - timedelta(hours=1)
    for i, table in enumerate(partners.values()):
        table.seed(range(1, 301 + 50 * i), old)
    for order_table in orders.values():
        order_table.add(range(1, 201), old)
    entities = {name: t.entity(name[:2]) for name, t in partners.items()}
    entities.update({name: t.entity(name[:2], name) for name, t in orders.items()})
    assert len(entities) == 12
    write_config(
        data_dir,
        config_text({"pg": sql_source(pg.url), "my": sql_source(maria.url)}, entities,
                    batch_size=50),
    )  # fmt: skip
    daemons.start()
    names = sorted(entities)
    asyncio.run(request_all(data_dir, names, "full"))
    now = wall_now()
    for table in partners.values():
        table.seed(range(5000, 5020), now)
        table.db.execute(f"DELETE FROM {table.table} WHERE id = 2")
    for order_table in orders.values():
        order_table.add(range(5000, 5010), now)
    asyncio.run(request_all(data_dir, names, "incremental"))
    asyncio.run(request_all(data_dir, names, "full"))  # the deletions

    for name, table in partners.items():
        source, live = table.source(), Partners.replica(data_dir, name)
        assert live == source, name
    for name, order_table in orders.items():
        assert Orders.replica(data_dir, name) == order_table.source(), name
    runs = cli_json(cli_env, "history", "--limit", "1000")
    assert len(runs) == 36 and {run["outcome"] for run in runs} == {"succeeded"}
    assert {run["service"] for run in runs} == set(names)
    spans = sorted(
        (datetime.fromisoformat(run["started_at"]), datetime.fromisoformat(run["finished_at"]),
         run["service"]) for run in runs
    )  # fmt: skip
    for (_, ended, before), (began, _, after) in itertools.pairwise(spans):
        assert ended <= began, f"{before} ran until {ended}, {after} began at {began}"


# -- a mapping that removes a column ---------------------------------------------------


def test_a_removed_column_is_refused_until_the_replica_table_is_rebuilt(
    pg: ErpDb, daemons: Daemons, data_dir: Path, cli_env: dict[str, str]
) -> None:
    partners = Partners(pg)
    partners.seed(range(1, 21), wall_now() - timedelta(hours=1))
    entity = partners.entity("erp")
    write_config(data_dir, config_text({"erp": sql_source(pg.url)}, {"partners": entity}))
    first = daemons.start()
    assert cli(cli_env, "sync", "partners", "--wait").returncode == 0
    assert stop(first) == 0
    before = replica_rows(data_dir, "partners", "*")

    narrower = {**entity, "columns": {k: v for k, v in entity["columns"].items() if k != "big"}}
    write_config(data_dir, config_text({"erp": sql_source(pg.url)}, {"partners": narrower}))
    refused = daemons.start()
    assert refused.wait(timeout=60) == 2
    log = (daemons.logs / "daemon-1.log").read_text()
    assert "Traceback" not in log
    problems = [line for line in log.splitlines() if "column big" in line]
    assert len(problems) == 1, log
    assert "`syncdeck replica rebuild partners`" in problems[0], log
    assert replica_rows(data_dir, "partners", "*") == before  # nothing touched

    rebuilt = cli(cli_env, "replica", "rebuild", "partners")
    assert rebuilt.returncode == 0, rebuilt.stderr
    daemons.start()
    result = cli_json(cli_env, "sync", "partners", "--wait")
    assert result["outcome"] == "succeeded", result
    assert (result["run"]["mode"], result["run"]["mode_reason"]) == ("full", "no cursor yet")
    columns = "id, name, credit, active, write_date"
    replica = set(replica_rows(data_dir, "partners", columns))
    assert replica == normalised(pg.rows(f"SELECT {columns} FROM {partners.table}"))
