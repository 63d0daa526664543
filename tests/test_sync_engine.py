"""The sync engine against real SQLite files: the demo ERP on one side, the replica on the other.

Nothing is mocked. The demo ERP is edited directly (`DemoERP.upsert` / `delete`) with explicit
whole-second timestamps, so that many records share one cursor value, updates land on the very
timestamp the replica's cursor already holds, and small batch sizes put page boundaries inside
groups of equal timestamps. The oracle is always the ERP itself: the replica's live rows
(`deleted_at IS NULL`) are compared with `DemoERP.iter_all` key by key and column by column,
order lines included.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SYNCDECK, OrchestratorFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import DemoFaults, DemoSizes, Settings
from core.demo import DEMO_FILENAME, DemoERP, DemoSource
from core.demo.faults import corrupt, is_malformed
from core.demo.generation import BASE_EPOCH, COLUMNS, KEYS, LINE_COLUMNS, iso
from core.entities import ENTITIES, EntitySpec
from core.errors import IncompleteListing
from core.models import RunCounts, RunOutcome, RunRecord, SyncMode
from core.orchestrator import Orchestrator
from core.replica.sqlite import SQLiteReplica
from core.runtime import open_replica
from core.runtime.services import entity_services
from core.store import SQLiteStore
from core.sync.engine import EngineSettings, EntitySyncService
from core.sync.service import RunContext

NAMES = tuple(ENTITIES)
FULL_THRESHOLD = EngineSettings().full_threshold
MALFORMED_FIELD = {
    "customers": "credit_limit",
    "products": "weight_kg",
    "prices": "amount",
    "orders": "total",
}
"""The field `core.demo.faults.corrupt` breaks when it keeps the key."""


# -- helpers --------------------------------------------------------------------


async def create_store(db: Path) -> None:
    """Create (migrate) the store file, replica tables included."""
    store = SQLiteStore(db)
    await store.open()
    await store.close()


class FaultBox:
    """The demo source's fault knobs, switchable between runs of the same service."""

    def __init__(self) -> None:
        self.faults = DemoFaults()


def make_service(
    name: str, erp: DemoERP, db: Path, batch_size: int, box: FaultBox | None = None
) -> EntitySyncService:
    box = box or FaultBox()
    return EntitySyncService(
        ENTITIES[name],
        lambda: DemoSource(erp, box.faults),
        SQLiteReplica(db),
        EngineSettings(batch_size=batch_size),
    )


async def run_engine(service: EntitySyncService, mode: SyncMode, run_id: int = 1) -> RunCounts:
    ctx = RunContext(request_id=run_id, run_id=run_id, mode=mode, mode_reason="test", attempt=1)
    return await service.run(ctx)


@contextlib.contextmanager
def connect(db: Path) -> Iterator[sqlite3.Connection]:
    """A connection of our own to the store file: committed (if written to) and closed."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def replica_rows(db: Path, spec: EntitySpec) -> dict[str, tuple[Any, ...]]:
    """Live replica rows by key: the spec's columns, in order."""
    with connect(db) as conn:
        rows = conn.execute(
            f"SELECT {', '.join(spec.columns)} FROM {spec.table} WHERE deleted_at IS NULL"
        ).fetchall()
    return {row[0]: tuple(row) for row in rows}


def replica_table(db: Path, table: str) -> list[tuple[Any, ...]]:
    """Every row of a replica table, soft-deleted ones and bookkeeping columns included."""
    with connect(db) as conn:
        return sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def replica_lines(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT order_id, line_no, sku, quantity, unit_price FROM order_lines "
            "ORDER BY order_id, line_no"
        ).fetchall()
    lines: dict[str, list[tuple[Any, ...]]] = {}
    for order_id, *line in rows:
        lines.setdefault(order_id, []).append(tuple(line))
    return lines


def source_records(erp: DemoERP, name: str) -> dict[str, dict[str, Any]]:
    return {str(r[KEYS[name]]): r for r in erp.iter_all(name)}


def as_row(spec: EntitySpec, record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record[c] for c in spec.columns)


def as_lines(record: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(x["line_no"], x["sku"], x["quantity"], x["unit_price"]) for x in record["lines"]]


def assert_rows_match_source(
    db: Path,
    erp: DemoERP,
    name: str,
    expected_live: set[str] | None = None,
    invalid: frozenset[str] = frozenset(),
) -> None:
    """Every valid ERP record is a live replica row with the same columns (and order lines);
    the live keys are exactly the ERP's keys less the `invalid` ones, or `expected_live` when
    deletions are still pending."""
    spec = ENTITIES[name]
    source = {k: r for k, r in source_records(erp, name).items() if k not in invalid}
    replica = replica_rows(db, spec)
    want_keys = set(source) if expected_live is None else expected_live
    assert set(replica) == want_keys, f"{name}: live keys differ from the expected set"
    for key, record in source.items():
        assert replica[key] == as_row(spec, record), f"{name} {key}: replica row differs"
    if name == "orders":
        lines = replica_lines(db)
        with connect(db) as conn:
            all_orders = {r[0] for r in conn.execute("SELECT id FROM orders")}
        assert set(lines) <= all_orders, "order_lines rows without their order"
        for key, record in source.items():
            assert lines.get(key, []) == as_lines(record), f"order {key}: lines differ"


# -- 1. property: incremental and full syncs converge on the ERP ---------------------

POOL = 6
"""Keys per entity the property test plays with: 0-2 exist in the generated ERP."""
INITIAL = DemoSizes(customers=3, products=3, prices=3, orders=3)


def pool_key(name: str, i: int) -> str:
    return {
        "customers": f"C{i:07d}",
        "products": f"P{i:08d}",
        "prices": f"P{i:08d}:EUR",
        "orders": f"O{i:08d}",
    }[name]


LINE = st.fixed_dictionaries(
    {
        "sku": st.sampled_from(["P00000000", "P00000001"]),
        "quantity": st.integers(1, 3),
        "unit_price": st.sampled_from([1.0, 2.5]),
    }
)
FIELDS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "customers": st.fixed_dictionaries(
        {
            "name": st.sampled_from(["Ann", "Bob"]),
            "email": st.sampled_from([None, "ann@example.com"]),
            "country": st.sampled_from(["DE", "FR"]),
            "credit_limit": st.sampled_from([0.0, 500.0, 1250.5]),
        }
    ),
    "products": st.fixed_dictionaries(
        {
            "name": st.sampled_from(["Saw", "Kite"]),
            "category": st.sampled_from(["tools", "toys"]),
            "unit": st.just("pc"),
            "active": st.booleans(),
            "weight_kg": st.sampled_from([0.5, 1.25]),
        }
    ),
    "prices": st.fixed_dictionaries(
        {
            "sku": st.sampled_from(["P00000000", "P00000001"]),
            "currency": st.sampled_from(["EUR", "USD"]),
            "amount": st.sampled_from([1.5, 2.0]),
            "valid_from": st.sampled_from(["2026-01-01", "2026-02-01"]),
        }
    ),
    "orders": st.fixed_dictionaries(
        {
            "customer_id": st.sampled_from(["C0000000", "C0000001"]),
            "status": st.sampled_from(["open", "shipped"]),
            "currency": st.just("EUR"),
            "total": st.sampled_from([10.0, 20.0]),
            "lines": st.lists(LINE, max_size=3),
        }
    ),
}

TICK = st.tuples(st.just("tick"), st.integers(1, 2))
"""The ERP's clock moves on; between ticks every change shares one timestamp."""
SYNC = st.tuples(st.just("sync"), st.sampled_from([SyncMode.INCREMENTAL, SyncMode.FULL]))


def steps_for(names: tuple[str, ...]) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    entity = st.sampled_from(names)
    upsert = entity.flatmap(
        lambda name: st.tuples(
            st.just("upsert"),
            st.just(name),
            st.lists(
                st.tuples(st.integers(0, POOL - 1), FIELDS[name]),
                min_size=1,
                max_size=5,
                unique_by=lambda item: item[0],
            ),
        )
    )
    delete = st.tuples(
        st.just("delete"),
        entity,
        st.lists(st.integers(0, POOL - 1), min_size=1, max_size=2, unique=True),
    )
    return st.lists(st.one_of(upsert, upsert, delete, TICK, SYNC, SYNC), min_size=1, max_size=12)


SCENARIO = (
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=len(NAMES), unique=True)
    .map(tuple)
    .flatmap(lambda names: st.tuples(st.just(names), steps_for(names)))
)
"""Which entities an example plays with, in the order each sync step runs them (they share
one store, so one entity's run could trample on another's state), and what happens to them."""


def erp_record(name: str, i: int, fields: dict[str, Any], stamp: str) -> dict[str, Any]:
    record = {KEYS[name]: pool_key(name, i), **fields, "updated_at": stamp}
    if name == "orders":
        record["ordered_at"] = stamp
        record["lines"] = [{"line_no": n, **line} for n, line in enumerate(fields["lines"], 1)]
    return record


async def property_scenario(
    tmp: Path,
    template: Path,
    batch_size: int,
    names: tuple[str, ...],
    steps: list[tuple[Any, ...]],
) -> None:
    db = tmp / "syncdeck.db"
    shutil.copyfile(template, db)
    erp = DemoERP(tmp / DEMO_FILENAME, sizes=INITIAL, changes_per_minute=0)
    try:
        services = {name: make_service(name, erp, db, batch_size) for name in names}
        # What the replica's live keys must be: an incremental run adds what it lists and
        # cannot see deletions; a complete full run makes them the ERP's keys exactly.
        live: dict[str, set[str]] = {name: set() for name in names}
        clock = BASE_EPOCH  # the generated records are all stamped at BASE_EPOCH too
        final = [("sync", SyncMode.INCREMENTAL), ("sync", SyncMode.FULL)]
        for step in [*steps, *final]:
            kind = step[0]
            if kind == "upsert":
                _, name, items = step
                erp.upsert(name, [erp_record(name, i, f, iso(clock)) for i, f in items])
            elif kind == "delete":
                _, name, indexes = step
                erp.delete(name, [pool_key(name, i) for i in indexes])
            elif kind == "tick":
                clock += step[1]
            else:
                mode = step[1]
                for name in names:
                    source = set(source_records(erp, name))
                    before = len(live[name])
                    if mode == SyncMode.FULL and before and len(source) < FULL_THRESHOLD * before:
                        with pytest.raises(IncompleteListing):
                            await run_engine(services[name], mode)
                        live[name] |= source  # listed rows were written; nothing deleted
                    else:
                        counts = await run_engine(services[name], mode)
                        if mode == SyncMode.FULL:
                            assert counts.deleted == len(live[name] - source)
                            live[name] = source
                        else:
                            assert counts.deleted == 0
                            live[name] |= source
                    assert_rows_match_source(db, erp, name, live[name])
    finally:
        erp.close()


@pytest.fixture(scope="module")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly migrated store file, copied for every example (migrating is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "syncdeck.db"
    asyncio.run(create_store(path))
    return path


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batch_size=st.integers(2, 5), scenario=SCENARIO)
@pytest.mark.timeout(600)  # a failure is shrunk for up to 5 minutes: let it finish
def test_replica_equals_source_after_every_sync(
    store_template: Path, batch_size: int, scenario: tuple[tuple[str, ...], list[Any]]
) -> None:
    names, steps = scenario
    with tempfile.TemporaryDirectory(prefix="syncdeck-prop-") as tmp:
        asyncio.run(property_scenario(Path(tmp), store_template, batch_size, names, steps))


# -- the orchestrator, for run records -------------------------------------------------------


class Harness:
    """A demo ERP, a replica store and the four engine services over one data directory;
    `box.faults` is read by every new source, so faults can be switched between runs."""

    def __init__(self, data_dir: Path, sizes: DemoSizes, batch_size: int = 7) -> None:
        self.db = data_dir / "syncdeck.db"
        self.erp = DemoERP(data_dir / DEMO_FILENAME, sizes=sizes, changes_per_minute=0)
        self.box = FaultBox()
        self.services = {
            name: make_service(name, self.erp, self.db, batch_size, self.box) for name in NAMES
        }

    def close(self) -> None:
        self.erp.close()


@pytest.fixture
def harness(data_dir: Path) -> Iterator[Harness]:
    h = Harness(data_dir, DemoSizes(customers=60, products=40, prices=40, orders=50))
    yield h
    h.close()


async def sync(orch: Orchestrator, name: str, mode: SyncMode) -> RunRecord:
    request = await orch.request(name, mode)
    result = await orch.wait(request.id, timeout=60)
    assert result.run is not None
    return result.run


async def start(make_orchestrator: OrchestratorFactory, h: Harness) -> Orchestrator:
    orch = make_orchestrator(h.services, schedule=False)
    await orch.start()
    return orch


# -- 2. a truncated full listing -----------------------------------------------------


async def test_truncated_full_listing_deletes_nothing_and_fails_citing_the_70_percent_rule(
    make_orchestrator: OrchestratorFactory, harness: Harness
) -> None:
    orch = await start(make_orchestrator, harness)
    for name in NAMES:
        run = await sync(orch, name, SyncMode.FULL)
        assert run.outcome == RunOutcome.SUCCEEDED, run.error
    # Real deletions are pending too: a pass that trusted the truncated listing would
    # delete these along with the half it never saw.
    harness.erp.delete("customers", ["C0000001", "C0000002"])
    harness.erp.delete("orders", ["O00000003"])
    before = {name: replica_table(harness.db, name) for name in (*NAMES, "order_lines")}
    live_before = {name: replica_rows(harness.db, ENTITIES[name]) for name in NAMES}

    harness.box.faults = DemoFaults(truncate_full=0.5)
    for name in NAMES:
        run = await sync(orch, name, SyncMode.FULL)
        assert run.mode == SyncMode.FULL
        assert run.outcome == RunOutcome.FAILED
        assert run.error_class == "IncompleteListing"
        assert run.error is not None
        assert "70%" in run.error and "deleted nothing" in run.error, run.error
        assert replica_rows(harness.db, ENTITIES[name]) == live_before[name]
    after = {name: replica_table(harness.db, name) for name in (*NAMES, "order_lines")}
    assert after == before  # not a row touched, soft-deleted or rewritten

    # Once the ERP lists everything again, the real deletions (and only they) go through.
    harness.box.faults = DemoFaults()
    customers = await sync(orch, "customers", SyncMode.FULL)
    orders = await sync(orch, "orders", SyncMode.FULL)
    assert (customers.outcome, customers.counts.deleted) == (RunOutcome.SUCCEEDED, 2)
    assert (orders.outcome, orders.counts.deleted) == (RunOutcome.SUCCEEDED, 1)
    for name in NAMES:
        assert_rows_match_source(harness.db, harness.erp, name)


# -- 3. malformed records ---------------------------------------------------------------


def malformed(erp: DemoERP, name: str, rate: float) -> dict[str, dict[str, Any]]:
    """The ERP's records the demo source serves broken at `rate`, by key, as served."""
    return {
        key: corrupt(record, name, erp.seed)
        for key, record in source_records(erp, name).items()
        if is_malformed(record, name, erp.seed, rate)
    }


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def quarantined(db: Path, name: str, run_id: int) -> list[tuple[str | None, Any, str]]:
    with connect(db) as conn:
        rows = conn.execute(
            "SELECT record_key, payload, reason FROM quarantine WHERE entity = ? AND run_id = ?",
            (name, run_id),
        ).fetchall()
    return [(key, json.loads(payload), reason) for key, payload, reason in rows]


async def test_malformed_records_are_quarantined_and_never_delete_their_replica_rows(
    data_dir: Path,
) -> None:
    rate = 0.05
    db = data_dir / "syncdeck.db"
    await create_store(db)
    erp = DemoERP(
        data_dir / DEMO_FILENAME,
        sizes=DemoSizes(customers=300, products=300, prices=300, orders=300),
        changes_per_minute=0,
    )
    box = FaultBox()
    services = {name: make_service(name, erp, db, 40, box) for name in NAMES}
    try:
        # A first full run with malformed records: they are quarantined, the rest lands.
        box.faults = DemoFaults(malformed_rate=rate)
        for name in NAMES:
            spec = ENTITIES[name]
            source = source_records(erp, name)
            bad = malformed(erp, name, rate)
            assert 0 < len(bad) < len(source) / 5, "seed no longer yields a few malformed"
            assert any(spec.key not in r for r in bad.values()), "no key-less kind served"
            assert any(spec.key in r for r in bad.values()), "no keyed kind served"
            counts = await run_engine(services[name], SyncMode.FULL, run_id=11)
            assert counts == RunCounts(
                fetched=len(source), inserted=len(source) - len(bad), rejected=len(bad)
            )
            rows = quarantined(db, name, run_id=11)
            got = sorted(((key, payload) for key, payload, _ in rows), key=canonical)
            want = sorted(
                ((key if spec.key in served else None, served) for key, served in bad.items()),
                key=canonical,
            )
            assert got == want, f"{name}: quarantine keys or payloads differ"
            for key, payload, reason in rows:
                field = spec.key if key is None else MALFORMED_FIELD[name]
                assert reason.startswith(f"{field}:"), (payload, reason)
            good = {k: r for k, r in source.items() if k not in bad}
            assert replica_rows(db, spec) == {k: as_row(spec, r) for k, r in good.items()}

        # Served clean, everything lands.
        box.faults = DemoFaults()
        for name in NAMES:
            counts = await run_engine(services[name], SyncMode.FULL, run_id=12)
            assert counts.rejected == 0 and counts.deleted == 0
            assert_rows_match_source(db, erp, name)
        with connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM quarantine WHERE run_id = 12").fetchone() == (
                0,
            )

        # Malformed again: a record the replica holds as valid, now served broken but still
        # carrying its key, keeps its last good row (not soft-deleted, not overwritten).
        box.faults = DemoFaults(malformed_rate=rate)
        for name in NAMES:
            spec = ENTITIES[name]
            source = source_records(erp, name)
            bad = malformed(erp, name, rate)
            counts = await run_engine(services[name], SyncMode.FULL, run_id=13)
            assert counts.fetched == len(source)
            assert counts.rejected == len(bad)
            assert counts.unchanged == len(source) - len(bad)
            assert counts.inserted == counts.updated == 0
            replica = replica_rows(db, spec)
            for key, served in bad.items():
                if spec.key in served:
                    assert replica.get(key) == as_row(spec, source[key]), f"{name} {key}"
            for key in set(source) - set(bad):
                assert replica[key] == as_row(spec, source[key])
            assert len(quarantined(db, name, run_id=13)) == len(bad)
    finally:
        erp.close()


# -- 4. auto mode -------------------------------------------------------------------------


def set_state(db: Path, entity: str, **values: Any) -> None:
    sets = ", ".join(f"{k} = ?" for k in values)
    with connect(db) as conn:
        cur = conn.execute(
            f"UPDATE sync_state SET {sets} WHERE entity = ?", (*values.values(), entity)
        )
        assert cur.rowcount == 1


async def test_auto_mode_picks_full_or_incremental_and_the_run_record_says_why(
    make_orchestrator: OrchestratorFactory, harness: Harness
) -> None:
    orch = await start(make_orchestrator, harness)
    name = "customers"
    total = harness.erp.count(name)
    newest = max(r["updated_at"] for r in harness.erp.iter_all(name))

    async def auto(expected: SyncMode, reason: str) -> RunRecord:
        run = await sync(orch, name, SyncMode.AUTO)
        assert run.outcome == RunOutcome.SUCCEEDED, run.error
        assert run.requested_mode == SyncMode.AUTO
        assert (run.mode, run.mode_reason) == (expected, reason)
        return run

    first = await auto(SyncMode.FULL, "no cursor yet")
    assert first.counts.fetched == first.counts.inserted == total
    incremental = await auto(SyncMode.INCREMENTAL, f"cursor {newest}")
    # Only the last timestamp group is listed again (the cursor is inclusive).
    assert incremental.counts.fetched == harness.erp.count(name, newest) < total

    version = ENTITIES[name].mapping_version
    set_state(harness.db, name, mapping_version=version - 1)
    await auto(SyncMode.FULL, f"mapping version changed ({version - 1} -> {version})")
    await auto(SyncMode.INCREMENTAL, f"cursor {newest}")

    every = EngineSettings().full_every_s  # 24 h
    set_state(harness.db, name, last_full_at=time.time() - every + 3600)
    await auto(SyncMode.INCREMENTAL, f"cursor {newest}")
    set_state(harness.db, name, last_full_at=time.time() - every - 3600)
    stale = await auto(SyncMode.FULL, f"last full run older than {every / 3600:g} h")
    assert stale.counts.fetched == total
    await auto(SyncMode.INCREMENTAL, f"cursor {newest}")

    # A full run that does not complete leaves the next auto run full.
    harness.box.faults = DemoFaults(truncate_full=0.5)
    failed = await sync(orch, name, SyncMode.FULL)
    assert failed.outcome == RunOutcome.FAILED
    assert (failed.mode, failed.mode_reason) == (SyncMode.FULL, "full requested")
    harness.box.faults = DemoFaults()
    await auto(SyncMode.FULL, "the last full run did not complete")
    await auto(SyncMode.INCREMENTAL, f"cursor {newest}")

    explicit = await sync(orch, name, SyncMode.INCREMENTAL)
    assert (explicit.mode, explicit.mode_reason) == (SyncMode.INCREMENTAL, "incremental requested")
    history = await orch.history(name, limit=50)
    assert [r.mode for r in reversed(history)] == [
        SyncMode.FULL,
        SyncMode.INCREMENTAL,
        SyncMode.FULL,
        SyncMode.INCREMENTAL,
        SyncMode.INCREMENTAL,
        SyncMode.FULL,
        SyncMode.INCREMENTAL,
        SyncMode.FULL,
        SyncMode.FULL,
        SyncMode.INCREMENTAL,
        SyncMode.INCREMENTAL,
    ]


# -- 6. syncdeck verify ---------------------------------------------------------------------

VERIFY_SIZES = {"customers": 25, "products": 20, "prices": 20, "orders": 25}


def verify(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SYNCDECK, "verify", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_verify_exits_0_in_sync_and_1_naming_the_drift(
    data_dir: Path, cli_env: dict[str, str]
) -> None:
    env = {
        **cli_env,
        "SYNCDECK_SOURCE__KIND": "demo",
        "SYNCDECK_DEMO__CHANGES_PER_MINUTE": "0",
        **{f"SYNCDECK_DEMO__SIZES__{k.upper()}": str(v) for k, v in VERIFY_SIZES.items()},
    }
    config = Settings.from_values(
        data_dir=data_dir,
        source={"kind": "demo"},
        demo={"sizes": VERIFY_SIZES, "changes_per_minute": 0},
        sync={"batch_size": 6},
    )
    db = data_dir / "syncdeck.db"
    await create_store(db)
    services = entity_services(config, open_replica(config))

    async def full_sync() -> None:
        for name in NAMES:
            await run_engine(services[name], SyncMode.FULL)  # type: ignore[arg-type]

    await full_sync()
    clean = verify(env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    lines = clean.stdout.splitlines()
    for name in NAMES:
        size = VERIFY_SIZES[name]
        assert any(
            line.split()[:2] == [name, "in"] and f"source {size} rows" in line for line in lines
        ), clean.stdout
    assert "DRIFT" not in clean.stdout

    with connect(db) as conn:
        conn.execute("DELETE FROM orders WHERE id = 'O00000004'")
    drift = verify(env, "orders")
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert "DRIFT" in drift.stdout and "missing: O00000004" in drift.stdout, drift.stdout

    erp = DemoERP(data_dir / DEMO_FILENAME, changes_per_minute=0)
    try:
        changed = source_records(erp, "customers")["C0000003"]
        erp.upsert("customers", [{**changed, "name": "Renamed in the ERP"}])
    finally:
        erp.close()
    drift = verify(env, "--json", "customers")
    assert drift.returncode == 1, drift.stdout + drift.stderr
    (report,) = json.loads(drift.stdout)
    assert report["entity"] == "customers" and not report["clean"]
    assert (report["missing"], report["pending_deletion"], report["different"]) == (0, 0, 1)
    assert report["examples"]["different"] == ["C0000003"]

    await full_sync()  # repairs both
    repaired = verify(env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr


# -- 7. the demo ERP serves the entity specs' records ------------------------------------------


def test_entity_specs_and_demo_erp_describe_the_same_records() -> None:
    for name, spec in ENTITIES.items():
        assert KEYS[name] == spec.key
        assert set(COLUMNS[name]) == set(spec.columns)
        if spec.child is not None:
            assert spec.child.columns == LINE_COLUMNS
