"""An operator's own ERP synced end to end, on PostgreSQL and on MariaDB (a database of
its own per test, dropped after), through a runner orchestrator built as `syncdeck
daemon` builds it from `syncdeck.toml`. The replica is compared with the source without
syncdeck's code (`support.erpsync`: each side read with its own driver, normalised here).

It shows:
- the replica equals the source after a full run, and after incremental runs while
  writer threads insert, update and delete rows (a full run among them); deletions wait
  for a full run, after which the live rows equal the source's and the deleted ones
  have `deleted_at`;
- a row changed during a full pass, after the pass read past its key, is brought by the
  next incremental run however long the pass took;
- a late commit (a row stamped with its transaction's start, committed seconds after
  rows with later stamps were synced) is brought by the next incremental run when
  `lookback_s` covers the hold, or on PostgreSQL's xmin horizon with no lookback at all,
  and is lost with `lookback_s = 0`;
- the autumn's repeated hour: rows written in the second 02:xx (wall times lower than
  rows already synced) arrive with `lookback_s = 0`;
- decimals arrive exactly: 0.1 + 0.2 is 0.3, a 20-digit NUMERIC stays whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.erpdb import ErpDb, empty_erp
from support.erpsync import (
    Partners,
    Row,
    Writers,
    config_text,
    replica_rows,
    running,
    sql_source,
    sync,
    until,
    utc_text,
    wall_now,
    write_config,
)

from core.runtime import Hooks

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SYNCDECK_"):
            monkeypatch.delenv(key)


@pytest.fixture(params=["postgresql", "mariadb"])
def erp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ErpDb]:
    yield from empty_erp(request.param, tmp_path)


def configure(data_dir: Path, erp: ErpDb, entities: dict[str, Any], batch_size: int = 100) -> None:
    write_config(
        data_dir, config_text({"erp": sql_source(erp.url)}, entities, batch_size=batch_size)
    )


def by_id(rows: set[Row]) -> dict[Any, Row]:
    return {row[0]: row for row in rows}


def differences(source: set[Row], replica: set[Row]) -> str:
    """What differs, by key, for an assertion's message (a few of each)."""
    src, rep = by_id(source), by_id(replica)
    missing = sorted(src.keys() - rep.keys())[:5]
    extra = sorted(rep.keys() - src.keys())[:5]
    changed = sorted(k for k in src.keys() & rep.keys() if src[k] != rep[k])[:5]
    shown = [f"source {src[k]} / replica {rep[k]}" for k in changed]
    return f"missing {missing}, extra {extra}, different: {shown}"


ROWS = 1500


async def test_the_replica_equals_the_source_through_concurrent_writes(
    erp: ErpDb, data_dir: Path
) -> None:
    partners = Partners(erp)
    partners.seed(range(1, ROWS + 1), wall_now() - timedelta(hours=1))
    configure(data_dir, erp, {"partners": partners.entity("erp", lookback_s=10)})
    async with running(data_dir) as orch:
        await sync(orch, "partners", "full")
        source = partners.source()
        assert Partners.replica(data_dir, "partners") == source and len(source) == ROWS

        writers = Writers(partners, range(1, ROWS + 1)).start()
        try:
            await writers.more(50)
            await sync(orch, "partners", "full")  # a full pass while rows change under it
            for _ in range(4):
                await writers.more(50)
                await sync(orch, "partners", "incremental")
        finally:
            writers.stop()
        await sync(orch, "partners", "incremental")
        # Every source row is in the replica as it is; the replica's other live rows are
        # rows deleted since the last full run (only a full run reconciles deletions).
        source, live = partners.source(), Partners.replica(data_dir, "partners")
        assert source <= live, differences(source, live)
        assert {row[0] for row in live - source} <= writers.deleted

        await sync(orch, "partners", "full")
        source, live = partners.source(), Partners.replica(data_dir, "partners")
        assert live == source, differences(source, live)
        gone = {row[0] for row in Partners.replica(data_dir, "partners", live=False)}
        assert gone <= writers.deleted
        assert {key for key in writers.deleted if key <= ROWS} <= gone  # the replica had them
        assert not gone & {row[0] for row in live}
    assert writers.done() >= 250, writers.counts


async def test_a_row_changed_behind_a_full_pass_is_brought_by_the_next_incremental_run(
    erp: ErpDb, data_dir: Path
) -> None:
    """A full pass reads by key, a page at a time, each page its own transaction: a row it
    has read may change before it ends, while rows further on change later still (a long
    pass). The next incremental run must bring that change, lookback or not."""
    partners = Partners(erp)
    start = wall_now() - timedelta(hours=2)
    partners.seed(range(1, 301), start)
    configure(data_dir, erp, {"partners": partners.entity("erp", lookback_s=5)}, batch_size=50)
    table = partners.table
    edited: list[int] = []

    def edit_behind_the_pass(batch: int) -> None:
        """Before the pass writes its third page (rows 101-150): row 7, read already, and
        then row 290, not yet read, change; row 290 a minute later (a long pass)."""
        if batch != 3 or edited:
            return
        edited.append(batch)
        erp.execute_many(
            f"UPDATE {table} SET name = %s, write_date = %s WHERE id = %s",
            [("changed behind", start + timedelta(minutes=30), 7),
             ("changed ahead", start + timedelta(minutes=31), 290)],
        )  # fmt: skip

    async with running(data_dir, Hooks(before_batch_commit=edit_behind_the_pass)) as orch:
        await sync(orch, "partners", "full")
        assert edited
        await sync(orch, "partners", "incremental")
    source, live = partners.source(), Partners.replica(data_dir, "partners")
    assert by_id(live)[7][1] == "changed behind", differences(source, live)
    assert live == source, differences(source, live)


@pytest.mark.parametrize("reading", ["lookback_s = 30", "lookback_s = 0", "horizon = xmin"])
async def test_a_late_commit_needs_a_lookback_that_covers_its_hold_or_the_xmin_horizon(
    erp: ErpDb, data_dir: Path, reading: str
) -> None:
    xmin = reading == "horizon = xmin"
    if xmin and erp.kind != "postgresql":
        pytest.skip("the xmin horizon is PostgreSQL's")
    hold_s, lookback_s = 3.0, 30.0 if reading == "lookback_s = 30" else 0.0
    partners = Partners(erp)
    partners.seed(range(1, 11), wall_now() - timedelta(hours=1))
    entity = partners.entity("erp", lookback_s=lookback_s)
    configure(data_dir, erp, {"partners": entity | ({"horizon": "xmin"} if xmin else {})})
    table, pg = partners.table, erp.kind == "postgresql"
    stamp = "localtimestamp" if pg else "%s"  # PostgreSQL: the transaction's start
    insert = f"INSERT INTO {table} VALUES (%s, %s, 1.00, 2.00, {'true' if pg else 1}, {stamp})"
    async with running(data_dir) as orch:
        await sync(orch, "partners", "full")
        late = erp.connect(autocommit=False)
        try:
            with late.cursor() as cur:
                cur.execute(insert, [100, "late", *([] if pg else [wall_now()])])
                cur.execute(f"SELECT write_date FROM {table} WHERE id = 100")
                late_stamp: datetime = cur.fetchone()[0]
            # Rows stamped later are committed, one at a time, until the ERP's clock is
            # `hold_s` past the late row's stamp; then a sync runs.
            newest = [100]
            on_time = erp.connect()

            def later_rows_reach_the_hold() -> bool:
                newest[0] += 1
                with on_time.cursor() as cur:
                    cur.execute(insert, [newest[0], "on time", *([] if pg else [wall_now()])])
                    cur.execute(f"SELECT max(write_date) FROM {table}")
                    top: datetime = cur.fetchone()[0]
                return top >= late_stamp + timedelta(seconds=hold_s)

            try:
                await until(later_rows_reach_the_hold, 60, "rows stamped past the hold")
            finally:
                on_time.close()
            await sync(orch, "partners", "incremental")
            synced = replica_rows(data_dir, "sync_state", "cursor", "WHERE entity = 'partners'")
            assert synced[0][0] >= utc_text(late_stamp + timedelta(seconds=hold_s))
            assert 100 not in by_id(Partners.replica(data_dir, "partners"))
            late.commit()
            held = wall_now() - late_stamp
        finally:
            late.close()
        assert held.total_seconds() < 30  # so 30 s of lookback covers it
        await sync(orch, "partners", "incremental")
        live = Partners.replica(data_dir, "partners")
        source = partners.source()
        if lookback_s or xmin:
            assert live == source, differences(source, live)
        else:  # the row is lost to incremental runs: below the cursor when it committed
            assert 100 not in by_id(live)
            assert live == {row for row in source if row[0] != 100}
            await sync(orch, "partners", "full")
            assert Partners.replica(data_dir, "partners") == partners.source()


DST_BEFORE = datetime(2026, 10, 24, 23, 0)
FIRST_PASS = [datetime(2026, 10, 25, 2, m) for m in (5, 30, 50)]
"""02:xx CEST (UTC+2), the first time the hour is lived."""
SECOND_PASS = [datetime(2026, 10, 25, 2, m) for m in (10, 20, 40)] + [datetime(2026, 10, 25, 3, 5)]
"""02:xx CET (UTC+1), the hour again: naive values lower than 02:50 already synced."""


async def test_rows_of_the_autumns_repeated_hour_all_arrive(erp: ErpDb, data_dir: Path) -> None:
    partners = Partners(erp)
    partners.seed(range(1, 6), DST_BEFORE)
    configure(data_dir, erp, {"partners": partners.entity("erp", lookback_s=0)})
    async with running(data_dir) as orch:
        await sync(orch, "partners", "full")
        partners.db.insert(partners.table, [(100 + i, f"first {i}", 1, 2, True, stamp)
                                            for i, stamp in enumerate(FIRST_PASS)])  # fmt: skip
        await sync(orch, "partners", "incremental")
        cursor = replica_rows(data_dir, "sync_state", "cursor", "WHERE entity = 'partners'")
        assert cursor == [("2026-10-25T00:50:00.000000Z",)]  # 02:50 CEST
        partners.db.insert(partners.table, [(200 + i, f"second {i}", 1, 2, True, stamp)
                                            for i, stamp in enumerate(SECOND_PASS)])  # fmt: skip
        run = await sync(orch, "partners", "incremental")
    assert run.counts.inserted == len(SECOND_PASS)
    source, live = partners.source(), Partners.replica(data_dir, "partners")
    assert live == source, differences(source, live)
    assert len(live) == 5 + len(FIRST_PASS) + len(SECOND_PASS)


async def test_decimals_arrive_exactly(erp: ErpDb, data_dir: Path) -> None:
    table = f"{erp.prefix}money"
    erp.execute(
        f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, tenths NUMERIC(10,1), "
        f"cents NUMERIC(20,2), big NUMERIC(22,2), write_date "
        f"{'TIMESTAMP' if erp.kind == 'postgresql' else 'DATETIME'} NOT NULL)",
        f"INSERT INTO {table} VALUES (1, 0.1 + 0.2, 0.1 + 0.2, 12345678901234567890.12, "
        "'2026-11-02 10:00:00')",
        f"INSERT INTO {table} VALUES (2, -0.3, 99999999999999999.99, "
        "-99999999999999999999.99, '2026-11-02 10:00:00')",
    )
    columns = {"id": "integer", "tenths": "decimal", "cents": "decimal", "big": "decimal",
               "write_date": "timestamp"}  # fmt: skip
    entity = {"source": "erp", "table": table, "key": "id", "cursor": "write_date",
              "columns": columns}  # fmt: skip
    configure(data_dir, erp, {"money": entity})
    async with running(data_dir) as orch:
        await sync(orch, "money", "full")
        erp.execute(
            f"UPDATE {table} SET big = big + 0.01, cents = cents + 0.1 + 0.2, "
            "write_date = '2026-11-02 11:00:00' WHERE id = 1"
        )
        await sync(orch, "money", "incremental")
    names = "id, tenths, cents, big"
    rows = replica_rows(data_dir, "money", names, "ORDER BY id")
    assert rows == [
        (1, "0.3", "0.60", "12345678901234567890.13"),
        (2, "-0.3", "99999999999999999.99", "-99999999999999999999.99"),
    ]
    kinds = replica_rows(data_dir, "money", "typeof(tenths), typeof(cents), typeof(big)")
    assert set(kinds) == {("text", "text", "text")}  # never a REAL on the way
    source = erp.rows(f"SELECT {names} FROM {table} ORDER BY id")
    assert rows == [(i, str(a), str(b), str(c)) for i, a, b, c in source]


async def test_with_the_built_in_four_off_an_entity_may_take_one_of_their_names(
    erp: ErpDb, data_dir: Path
) -> None:
    """`builtin = false` frees the names `orders`, `customers`, ...: the replica then makes
    no built-in table, and a configured `orders` gets its own, run after run."""
    partners = Partners(erp)
    partners.seed(range(1, 21), wall_now() - timedelta(hours=1))
    configure(data_dir, erp, {"orders": partners.entity("erp")})
    for mode in ("full", "incremental"):
        async with running(data_dir) as orch:  # a new runner: the replica checked at start
            await sync(orch, "orders", mode)
        assert Partners.replica(data_dir, "orders") == partners.source()
    tables = replica_rows(data_dir, "sqlite_master", "name", "WHERE type = 'table'")
    assert not {"customers", "products", "prices", "order_lines"} & {t[0] for t in tables}
