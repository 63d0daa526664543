"""The replica's promises (`core.replica.base`), written once and run against every backend.

Each test takes the `backend` fixture, parametrised over `BACKENDS`: a replica of that kind
on a database of its own, and a way to read it back with plain SQL (`?` placeholders; a
backend whose driver spells them otherwise translates them). Adding a backend is one entry
in `BACKENDS` (its harness beside `SQLiteBackend`). PostgreSQL runs on a database of the
test's own (`contract.conftest.pg_database`), and skips, saying why, without a server.

Batches are made the way the engine makes them (`core.sync.writer.RunWriter`: the codec, then
the target), so that the rules decided above the target (the 70% guard, the keyless-record
rule) are exercised together with what the target executes. The last tests run the whole
engine over the backend, with the demo ERP as the source.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import psycopg
import pytest

from contract.backends import pg_url
from core.config import DemoFaults, DemoSizes
from core.demo import DEMO_FILENAME, DemoERP, DemoSource
from core.demo.faults import corrupt, is_malformed
from core.entities import ENTITIES, EntitySpec
from core.errors import IncompleteListing
from core.models import RunCounts, SyncMode
from core.replica.base import Batch, Replica, ReplicaTarget, SyncState
from core.replica.postgres import PostgresReplica
from core.replica.sqlite import SQLiteReplica
from core.sync.codec import codec_for
from core.sync.engine import EngineSettings, EntitySyncService
from core.sync.service import RunContext
from core.sync.writer import RunWriter

CUSTOMERS = ENTITIES["customers"]
ORDERS = ENTITIES["orders"]
T1, T2, T3 = "2026-03-01T10:00:00Z", "2026-03-01T10:00:05Z", "2026-03-01T10:00:09Z"
THRESHOLD = EngineSettings().full_threshold


# -- the backends -------------------------------------------------------------------


class Backend(Protocol):
    @property
    def replica(self) -> Replica: ...

    @property
    def integrity_error(self) -> type[Exception]:
        """What the backend raises when a row breaks a constraint."""
        ...

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]: ...

    def execute(self, sql: str, *params: Any) -> None: ...


class SQLiteBackend:
    @classmethod
    def for_test(cls, request: pytest.FixtureRequest, tmp: Path) -> SQLiteBackend:
        return cls(tmp)

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "replica.db"
        self.replica = SQLiteReplica(self.path)
        self.integrity_error = sqlite3.IntegrityError

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(self.path)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def execute(self, sql: str, *params: Any) -> None:
        db = sqlite3.connect(self.path)
        try:
            with db:
                db.execute(sql, params)
        finally:
            db.close()


class PostgresBackend:
    """The replica in schema `replica` of a database of the test's own (beside the store's
    schema that the template database holds, as in production)."""

    schema = "replica"

    @classmethod
    def for_test(cls, request: pytest.FixtureRequest, tmp: Path) -> PostgresBackend:
        return cls(request.getfixturevalue("pg_database"))

    def __init__(self, dbname: str) -> None:
        self.url = pg_url(dbname)
        self.replica = PostgresReplica(self.url, self.schema)
        self.integrity_error = psycopg.errors.IntegrityError

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(self.url, autocommit=True, options=f"-c search_path={self.schema}")

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self._connect() as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()

    def execute(self, sql: str, *params: Any) -> None:
        with self._connect() as conn:
            conn.execute(sql.replace("?", "%s"), params)


BACKENDS: dict[str, type[SQLiteBackend] | type[PostgresBackend]] = {
    "sqlite": SQLiteBackend,
    "postgres": PostgresBackend,
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    made: Backend = BACKENDS[request.param].for_test(request, tmp_path)
    return made


@pytest.fixture
def target(backend: Backend) -> Iterator[ReplicaTarget]:
    opened = backend.replica.target(CUSTOMERS)
    yield opened
    opened.close()


# -- helpers ------------------------------------------------------------------------


def customer(key: str, stamp: str = T1, **fields: Any) -> dict[str, Any]:
    record = {
        "id": key,
        "name": f"Customer {key}",
        "email": None,
        "country": "DE",
        "credit_limit": 100.0,
        "updated_at": stamp,
    }
    return record | fields


def order(key: str, stamp: str, lines: list[tuple[int, str, int, float]]) -> dict[str, Any]:
    return {
        "id": key,
        "customer_id": "C1",
        "status": "open",
        "currency": "EUR",
        "total": float(sum(q * p for _, _, q, p in lines)),
        "ordered_at": T1,
        "updated_at": stamp,
        "lines": [{"line_no": n, "sku": s, "quantity": q, "unit_price": p} for n, s, q, p in lines],
    }


def live(backend: Backend, spec: EntitySpec) -> dict[str, tuple[Any, ...]]:
    rows = backend.query(
        f"SELECT {', '.join(spec.columns)} FROM {spec.table} WHERE deleted_at IS NULL"
    )
    return {row[0]: tuple(row) for row in rows}


def soft_deleted(backend: Backend, spec: EntitySpec) -> set[str]:
    rows = backend.query(f"SELECT {spec.key} FROM {spec.table} WHERE deleted_at IS NOT NULL")
    return {row[0] for row in rows}


def lines(backend: Backend) -> dict[str, list[tuple[Any, ...]]]:
    found: dict[str, list[tuple[Any, ...]]] = {}
    for order_id, *line in backend.query(
        "SELECT order_id, line_no, sku, quantity, unit_price FROM order_lines "
        "ORDER BY order_id, line_no"
    ):
        found.setdefault(order_id, []).append(tuple(line))
    return found


def quarantined(backend: Backend, name: str, run_id: int) -> list[tuple[str | None, Any, str]]:
    rows = backend.query(
        "SELECT record_key, payload, reason FROM quarantine WHERE entity = ? AND run_id = ? "
        "ORDER BY id",
        name,
        run_id,
    )
    return [(key, json.loads(payload), reason) for key, payload, reason in rows]


def as_row(spec: EntitySpec, record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(record[c] for c in spec.columns)


def fresh(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as a source delivers them: new objects, parsed from JSON."""
    loaded: list[dict[str, Any]] = json.loads(json.dumps(records))
    return loaded


def write(target: ReplicaTarget, records: list[dict[str, Any]], run_id: int = 1) -> RunCounts:
    writer = RunWriter(target, CUSTOMERS)
    return writer.write(fresh(records), run_id).counts


def full_pass(
    target: ReplicaTarget, spec: EntitySpec, pages: list[list[dict[str, Any]]], run_id: int = 1
) -> tuple[RunCounts, int]:
    """A full pass as the engine runs it: live rows counted first, then the pages, then the
    guarded reconciliation. Returns the summed batch counts and the rows deleted."""
    live_before = target.live_rows()
    writer = RunWriter(target, spec)
    writer.begin_full()
    counts = RunCounts()
    for page in pages:
        c = writer.write(fresh(page), run_id).counts
        counts = RunCounts(
            fetched=counts.fetched + c.fetched,
            inserted=counts.inserted + c.inserted,
            updated=counts.updated + c.updated,
            unchanged=counts.unchanged + c.unchanged,
            rejected=counts.rejected + c.rejected,
        )
    deleted = writer.finish_full(spec.mapping_version, counts.fetched, live_before, THRESHOLD)
    return counts, deleted


# -- one batch, atomically ---------------------------------------------------------------


def test_a_batch_commits_its_rows_rejects_and_cursor_together(
    backend: Backend, target: ReplicaTarget
) -> None:
    assert target.state() == SyncState(None, None, 0, None)
    bad = customer("C9", T3, country="Germany")
    counts = write(target, [customer("C1", T1), customer("C2", T2), bad], run_id=7)
    assert counts == RunCounts(fetched=3, inserted=2, rejected=1)
    assert set(live(backend, CUSTOMERS)) == {"C1", "C2"}
    ((key, payload, reason),) = quarantined(backend, "customers", 7)
    assert (key, payload) == ("C9", bad) and reason.startswith("country:")
    assert target.state().cursor == T2  # the valid rows' newest, not the reject's
    # Another connection sees all of it: it is committed.
    other = backend.replica.target(CUSTOMERS)
    try:
        assert other.state().cursor == T2
    finally:
        other.close()


def test_a_batch_that_fails_midway_leaves_nothing_behind(backend: Backend) -> None:
    target = backend.replica.target(ORDERS)
    try:
        writer = RunWriter(target, ORDERS)
        writer.write(fresh([order("O1", T1, [(1, "P1", 1, 2.0)])]), 1)
        batch: Batch = codec_for(ORDERS).decode(
            [order("O2", T2, [(1, "P2", 1, 1.0)]), {**order("O3", T2, []), "status": "lost"}]
        )
        # A child row that breaks NOT NULL fails the batch after its parent row was written.
        batch.children = [[("O2", 1, None, 1, 1.0)]]
        with pytest.raises(backend.integrity_error):
            target.write(batch, 2)
        assert set(live(backend, ORDERS)) == {"O1"}
        assert lines(backend) == {"O1": [(1, "P1", 1, 2.0)]}
        assert quarantined(backend, "orders", 2) == []
        assert target.state().cursor == T1
        # The target is still usable after the rollback.
        assert writer.write(fresh([order("O2", T2, [])]), 3).counts == RunCounts(
            fetched=1, inserted=1
        )
        assert target.state().cursor == T2
    finally:
        target.close()


def test_the_cursor_never_moves_backwards(target: ReplicaTarget) -> None:
    write(target, [customer("C1", T2)])
    write(target, [customer("C2", T1)])  # a late row with an older stamp
    assert target.state().cursor == T2
    write(target, [customer("C3", T3, country="Germany")])  # only a reject
    assert target.state().cursor == T2


def test_rows_are_classified_by_content(backend: Backend, target: ReplicaTarget) -> None:
    write(target, [customer("C1"), customer("C2")])
    assert write(target, [customer("C1"), customer("C2")]) == RunCounts(fetched=2, unchanged=2)
    counts = write(target, [customer("C1", name="Renamed"), customer("C3")])
    assert counts == RunCounts(fetched=2, inserted=1, updated=1)
    # A key listed twice in one batch is written once, with its later values.
    counts = write(target, [customer("C2", name="First"), customer("C2", name="Second")])
    assert counts == RunCounts(fetched=2, updated=1)
    assert live(backend, CUSTOMERS)["C2"] == as_row(CUSTOMERS, customer("C2", name="Second"))


# -- sync state -----------------------------------------------------------------------


def test_needs_full_is_committed_and_cleared_by_a_complete_pass(
    backend: Backend, target: ReplicaTarget
) -> None:
    target.mark_needs_full("the operator asked")
    assert target.state() == SyncState(None, None, 0, "the operator asked")
    write(target, [customer("C1")])
    writer = RunWriter(target, CUSTOMERS)
    writer.begin_full()
    other = backend.replica.target(CUSTOMERS)  # what a crash would leave: committed
    try:
        assert other.state().needs_full == "the last full run did not complete"
    finally:
        other.close()
    writer.write(fresh([customer("C1")]), 2)
    before = time.time()
    assert writer.finish_full(CUSTOMERS.mapping_version, 1, 1, THRESHOLD) == 0
    state = target.state()
    assert state.needs_full is None and state.mapping_version == CUSTOMERS.mapping_version
    assert state.last_full_at is not None and state.last_full_at >= before - 1
    assert state.cursor == T1


# -- reconciliation ----------------------------------------------------------------------


def test_a_full_pass_soft_deletes_what_it_did_not_see(
    backend: Backend, target: ReplicaTarget
) -> None:
    counts, deleted = full_pass(target, CUSTOMERS, [[customer(f"C{i}") for i in range(5)]])
    assert (counts.inserted, deleted) == (5, 0)
    counts, deleted = full_pass(
        target, CUSTOMERS, [[customer("C0"), customer("C1")], [customer("C2"), customer("C3")]]
    )
    assert (counts, deleted) == (RunCounts(fetched=4, unchanged=4), 1)
    assert soft_deleted(backend, CUSTOMERS) == {"C4"}
    assert target.live_rows() == 4
    # Listed again exactly as it was, the soft-deleted row comes back to life.
    counts, deleted = full_pass(target, CUSTOMERS, [[customer(f"C{i}") for i in range(5)]])
    assert (counts, deleted) == (RunCounts(fetched=5, updated=1, unchanged=4), 0)
    assert soft_deleted(backend, CUSTOMERS) == set()


def test_a_key_listed_again_later_in_a_first_full_pass_keeps_its_later_values(
    backend: Backend, target: ReplicaTarget
) -> None:
    """Into an empty table a backend may skip the lookups; a row that moved in the source
    during the pass (listed on two pages) must still end up once, as last listed."""
    renamed = customer("C2", T2, name="Renamed during the pass")
    counts, deleted = full_pass(
        target, CUSTOMERS, [[customer("C1"), customer("C2")], [renamed, customer("C3")]]
    )
    assert deleted == 0 and counts.fetched == 4
    assert counts.inserted + counts.updated + counts.unchanged == 4
    assert live(backend, CUSTOMERS) == {
        "C1": as_row(CUSTOMERS, customer("C1")),
        "C2": as_row(CUSTOMERS, renamed),
        "C3": as_row(CUSTOMERS, customer("C3")),
    }
    assert target.state().cursor == T2


def test_a_truncated_listing_deletes_nothing_and_leaves_the_pass_unfinished(
    backend: Backend, target: ReplicaTarget
) -> None:
    full_pass(target, CUSTOMERS, [[customer(f"C{i}") for i in range(10)]])
    with pytest.raises(IncompleteListing, match=r"70%.*deleted nothing"):
        full_pass(target, CUSTOMERS, [[customer(f"C{i}") for i in range(6)]])
    assert target.live_rows() == 10
    assert target.state().needs_full == "the last full run did not complete"
    # Exactly the threshold is enough.
    _, deleted = full_pass(target, CUSTOMERS, [[customer(f"C{i}") for i in range(7)]])
    assert deleted == 3 and target.state().needs_full is None


def test_invalid_records_never_delete_the_rows_they_may_stand_for(
    backend: Backend, target: ReplicaTarget
) -> None:
    full_pass(target, CUSTOMERS, [[customer(f"C{i}") for i in range(4)]])
    # C1 is listed broken but with its key: it still exists, its last good row stays.
    broken = customer("C1", credit_limit=-5)
    counts, deleted = full_pass(target, CUSTOMERS, [[customer("C0"), broken, customer("C2")]])
    assert (counts.rejected, deleted) == (1, 1)
    assert soft_deleted(backend, CUSTOMERS) == {"C3"}
    assert live(backend, CUSTOMERS)["C1"] == as_row(CUSTOMERS, customer("C1"))
    # A record without its key could be any row: the pass reconciles nothing at all.
    keyless = {k: v for k, v in customer("C2").items() if k != "id"}
    counts, deleted = full_pass(target, CUSTOMERS, [[customer("C0"), customer("C1"), keyless]])
    assert (counts.rejected, deleted) == (1, 0)
    assert set(live(backend, CUSTOMERS)) == {"C0", "C1", "C2"}
    assert target.state().needs_full is None  # the pass itself completed


# -- order lines ---------------------------------------------------------------------------


def test_order_lines_are_replaced_together_with_their_order(backend: Backend) -> None:
    target = backend.replica.target(ORDERS)
    three = [(1, "P1", 1, 2.0), (2, "P2", 2, 3.5), (3, "P3", 1, 9.0)]
    try:
        writer = RunWriter(target, ORDERS)
        counts = writer.write(fresh([order("O1", T1, three), order("O2", T1, three)]), 1).counts
        assert counts == RunCounts(fetched=2, inserted=2)
        assert lines(backend) == {"O1": three, "O2": three}
        changed = [(1, "P1", 4, 2.0), (2, "P9", 1, 1.0)]
        counts = writer.write(fresh([order("O1", T2, changed), order("O2", T1, three)]), 2).counts
        assert counts == RunCounts(fetched=2, updated=1, unchanged=1)
        assert lines(backend) == {"O1": changed, "O2": three}
        writer.write(fresh([order("O2", T2, [])]), 3)
        assert lines(backend) == {"O1": changed}
        assert live(backend, ORDERS)["O2"] == as_row(ORDERS, order("O2", T2, []))
    finally:
        target.close()


# -- verify ----------------------------------------------------------------------------------


def check(backend: Backend, records: list[dict[str, Any]], examples: int = 5) -> Any:
    target = backend.replica.target(CUSTOMERS)
    try:
        target.begin_verify()
        target.verify(codec_for(CUSTOMERS).decode(fresh(records)))
        return target.finish_verify(examples)
    finally:
        target.close()


def test_verify_tells_drift_below_the_cursor_from_pending_rows(
    backend: Backend, target: ReplicaTarget
) -> None:
    """Below the replica's cursor a difference is drift; at or after it the next sync
    brings it (pending); a live row the source no longer lists awaits the next full sync
    (pending deletion). Rows C0-C5 changed at T1, C9 at T2: the cursor is T2."""
    source = [*(customer(f"C{i}") for i in range(6)), customer("C9", T2)]
    full_pass(target, CUSTOMERS, [source])
    clean = check(backend, source)
    assert clean.clean and clean.cursor == T2
    assert clean.examples == {"missing": [], "different": [], "pending": [], "pending_deletion": []}

    backend.execute("DELETE FROM customers WHERE id = ?", "C1")  # missing
    full_pass(target, CUSTOMERS, [[c for c in source if c["id"] not in ("C1", "C2")]])  # C2 gone
    listing = [
        *source[:5],
        customer("C5", name="Renamed in the ERP"),  # at T1: the replica should have it
        customer("C9", T2, name="Renamed at the cursor"),  # the next sync rereads T2
        customer("C7", T3),  # new since the last sync
    ]
    # C1 was hard-deleted, C2 soft-deleted (both missing below the cursor), C5 differs:
    # drift. C9 and C7 are pending. The replica's C0, C3, C4 are listed.
    drift = check(backend, listing)
    assert (drift.missing, drift.different, drift.pending) == (2, 1, 2)
    assert drift.pending_deletion == 0 and not drift.clean
    assert sorted(drift.examples["missing"]) == ["C1", "C2"]
    assert drift.examples["different"] == ["C5"]
    assert sorted(drift.examples["pending"]) == ["C7", "C9"]
    assert drift.pending_oldest == T2
    drift = check(backend, source[:1], examples=1)
    assert (drift.missing, drift.different, drift.pending, drift.pending_deletion) == (0, 0, 0, 4)
    assert drift.clean and len(drift.examples["pending_deletion"]) == 1
    # Nothing was written by verifying.
    assert set(live(backend, CUSTOMERS)) == {"C0", "C3", "C4", "C5", "C9"}


# -- the engine over the backend (moved from test_sync_engine) --------------------------------


def engine(backend: Backend, name: str, erp: DemoERP, batch: int, box: list[DemoFaults]) -> Any:
    return EntitySyncService(
        ENTITIES[name], lambda: DemoSource(erp, box[0]), backend.replica, EngineSettings(batch)
    )


async def run_engine(service: EntitySyncService, mode: SyncMode, run_id: int = 1) -> RunCounts:
    ctx = RunContext(request_id=run_id, run_id=run_id, mode=mode, mode_reason="test", attempt=1)
    return await service.run(ctx)


async def test_full_pass_with_keyless_malformed_records_deletes_nothing_they_may_stand_for(
    backend: Backend, tmp_path: Path
) -> None:
    rate = 0.05
    erp = DemoERP(tmp_path / DEMO_FILENAME, sizes=DemoSizes(customers=200), changes_per_minute=0)
    box = [DemoFaults()]
    service = engine(backend, "customers", erp, 50, box)
    try:
        await run_engine(service, SyncMode.FULL)
        keyless = {
            str(r["id"])
            for r in erp.iter_all("customers")
            if is_malformed(r, "customers", erp.seed, rate)
            and "id" not in corrupt(r, "customers", erp.seed)
        }
        assert keyless
        box[0] = DemoFaults(malformed_rate=rate)
        counts = await run_engine(service, SyncMode.FULL, run_id=2)
        # Every one of these records still exists in the ERP: nothing may be deleted.
        assert counts.deleted == 0
        assert keyless <= set(live(backend, CUSTOMERS))
    finally:
        erp.close()


async def test_orders_and_lines_are_replaced_together_with_exact_counts(
    backend: Backend, tmp_path: Path
) -> None:
    erp = DemoERP(
        tmp_path / DEMO_FILENAME,
        sizes=DemoSizes(customers=0, products=0, prices=0, orders=0),
        changes_per_minute=0,
    )
    service = engine(backend, "orders", erp, 2, [DemoFaults()])
    three = [(1, "P1", 1, 2.0), (2, "P2", 2, 3.5), (3, "P3", 1, 9.0)]

    def status(record: dict[str, Any], value: str) -> dict[str, Any]:
        return {**record, "status": value}

    def matches(expected: set[str] | None = None, invalid: frozenset[str] = frozenset()) -> None:
        source = {str(r["id"]): r for r in erp.iter_all("orders") if r["id"] not in invalid}
        replica = live(backend, ORDERS)
        assert set(replica) == (set(source) if expected is None else expected)
        for key, record in source.items():
            assert replica[key] == as_row(ORDERS, record), key
            want = [
                (x["line_no"], x["sku"], x["quantity"], x["unit_price"]) for x in record["lines"]
            ]
            assert lines(backend).get(key, []) == want, key

    broken = frozenset({"O7"})
    try:
        erp.upsert("orders", [order(f"O{i}", T1, three) for i in range(1, 6)])
        assert await run_engine(service, SyncMode.FULL) == RunCounts(fetched=5, inserted=5)
        matches()

        # At T2: O2's lines change (one modified, one replaced, one removed), O6 is new,
        # O7 arrives broken, O5 is deleted. The incremental run lists everything at or
        # after its cursor T1: O1, O3, O4 unchanged, O2 updated, O6 new, O7 rejected.
        erp.upsert(
            "orders", [status(order("O2", T2, [(1, "P1", 4, 2.0), (2, "P9", 1, 1.0)]), "confirmed")]
        )
        erp.upsert("orders", [order("O6", T2, [(1, "P6", 1, 1.0)])])
        erp.upsert("orders", [status(order("O7", T2, []), "lost")])
        erp.delete("orders", ["O5"])
        counts = await run_engine(service, SyncMode.INCREMENTAL, run_id=2)
        assert counts == RunCounts(fetched=6, inserted=1, updated=1, unchanged=3, rejected=1)
        assert lines(backend)["O2"] == [(1, "P1", 4, 2.0), (2, "P9", 1, 1.0)]
        matches({"O1", "O2", "O3", "O4", "O5", "O6"}, broken)
        ((key, payload, reason),) = quarantined(backend, "orders", 2)
        assert (key, payload["status"], payload["lines"]) == ("O7", "lost", [])
        assert reason.startswith("status: ") and "'cancelled'" in reason, reason

        # Nothing changed: only the T2 group is listed again.
        counts = await run_engine(service, SyncMode.INCREMENTAL, run_id=3)
        assert counts == RunCounts(fetched=3, unchanged=2, rejected=1)

        # O4 loses all its lines, O3 only changes status, both at T2.
        erp.upsert("orders", [status(order("O4", T2, []), "cancelled")])
        erp.upsert("orders", [status(order("O3", T2, three), "shipped")])
        counts = await run_engine(service, SyncMode.INCREMENTAL, run_id=4)
        assert counts == RunCounts(fetched=5, updated=2, unchanged=2, rejected=1)
        assert "O4" not in lines(backend)
        assert lines(backend)["O3"] == three

        # The full run lists the six orders still in the ERP and reconciles O5's deletion.
        counts = await run_engine(service, SyncMode.FULL, run_id=5)
        assert counts == RunCounts(fetched=6, unchanged=5, deleted=1, rejected=1)
        matches(invalid=broken)
        assert soft_deleted(backend, ORDERS) == {"O5"}

        # O5 comes back exactly as it was (restored, old timestamp and all): only a full run
        # lists it, and its soft-deleted row, though identical, must come back to life.
        erp.upsert("orders", [order("O5", T1, three)])
        counts = await run_engine(service, SyncMode.FULL, run_id=6)
        assert counts == RunCounts(fetched=7, updated=1, unchanged=5, rejected=1)
        matches(invalid=broken)
    finally:
        erp.close()
