"""A listing not in cursor order (`CursorHold`), on every backend: its pages' rows land
as they come, the cursor moves only when the listing completes (capped at the hold's
`cap`), a listing cut short moves nothing, and a horizon is kept beside the cursor and
handed to the next incremental listing as `since`. A replica made at schema version 1
is upgraded in place, its cursor kept."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from contract.test_replica_configured import specs
from contract.test_replica_contract import BACKENDS, Backend
from core.entities import EntitySpec
from core.errors import SourceUnavailable
from core.models import SyncMode
from core.replica.base import Replica
from core.replica.postgres import PostgresReplica
from core.replica.sqlite import SQLiteReplica
from core.sources.base import CursorHold, Page
from core.sync.engine import EngineSettings, EntitySyncService
from core.sync.service import RunContext


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    made: Backend = BACKENDS[request.param].for_test(request, tmp_path)
    return made


class UnorderedListing:
    """A source of `stock` rows listed in no cursor order, two rows a page, whose first
    page carries `hold`; it fails on page `fail_on` (1-based) when set, and records every
    `since` it was asked for."""

    def __init__(self, rows: list[tuple[Any, ...]], hold: CursorHold) -> None:
        self.rows, self.hold = rows, hold
        self.fail_on: int | None = None
        self.asked: list[str | None] = []

    async def page(self, entity: str, since: str | None, token: str | None, limit: int) -> Page:
        number = int(token or 0)
        if number == 0:
            self.asked.append(since)
        if self.fail_on == number + 1:
            raise SourceUnavailable("the API went away mid-listing")
        chunk = self.rows[2 * number : 2 * number + 2]
        more = 2 * number + 2 < len(self.rows)
        return Page(
            columns=("site", "sku", "on_hand", "changed"),
            rows=chunk,
            next=str(number + 1) if more else None,
            hold=self.hold if number == 0 else None,
        )

    async def estimate(self, entity: str, since: str | None) -> int | None:
        return None

    async def close(self) -> None:
        return None


def at(day: int) -> datetime:
    return datetime(2026, 3, day, 12, 0, tzinfo=UTC)


ROWS = [(1, "A", Decimal(1), at(9)), (2, "A", Decimal(2), at(3)), (3, "A", Decimal(3), at(5))]


async def sync(
    backend: Backend, spec: EntitySpec, source: UnorderedListing, mode: SyncMode
) -> None:
    service = EntitySyncService(spec, lambda: source, backend.replica, EngineSettings())
    ctx = RunContext(request_id=1, run_id=1, mode=mode, mode_reason="test", attempt=1)
    await service.run(ctx)


def reopened(backend: Backend) -> Replica:
    """The backend's replica as a new process opens it (nothing remembered)."""
    replica = backend.replica
    if isinstance(replica, SQLiteReplica):
        return SQLiteReplica(replica.path)
    assert isinstance(replica, PostgresReplica)
    return PostgresReplica(replica.url, replica.schema)


def state(backend: Backend) -> list[tuple[Any, ...]]:
    return backend.query("SELECT cursor, horizon FROM sync_state WHERE entity = 'stock'")


async def test_the_cursor_moves_once_the_listing_completes_capped_at_its_start(
    backend: Backend, tmp_path: Path
) -> None:
    spec = specs(tmp_path)["stock"]
    source = UnorderedListing(ROWS, CursorHold(cap=at(7)))
    source.fail_on = 2
    with pytest.raises(SourceUnavailable):
        await sync(backend, spec, source, SyncMode.FULL)
    # The first page's rows landed, and the cursor did not move past the unread ones.
    assert backend.query("SELECT count(*) FROM stock") == [(2,)]
    assert state(backend) in ([], [(None, None)])

    source.fail_on = None
    await sync(backend, spec, source, SyncMode.FULL)
    assert backend.query("SELECT count(*) FROM stock") == [(3,)]
    # The highest cursor read is the 9th, but the listing began on the 7th: a row that
    # changed after its start is read again.
    assert state(backend) == [("2026-03-07T12:00:00.000000Z", None)]

    await sync(backend, spec, source, SyncMode.INCREMENTAL)
    assert source.asked[-1] == "2026-03-07T12:00:00.000000Z"


async def test_a_horizon_is_kept_and_replaces_the_cursor_as_the_next_since(
    backend: Backend, tmp_path: Path
) -> None:
    spec = specs(tmp_path)["stock"]
    source = UnorderedListing(ROWS, CursorHold(horizon="1041"))
    await sync(backend, spec, source, SyncMode.FULL)
    assert state(backend) == [("2026-03-09T12:00:00.000000Z", "1041")]

    source.hold = CursorHold(horizon="999")  # replaced, never compared as text
    source.fail_on = 2
    with pytest.raises(SourceUnavailable):
        await sync(backend, spec, source, SyncMode.INCREMENTAL)
    assert source.asked[-1] == "1041"
    assert state(backend) == [("2026-03-09T12:00:00.000000Z", "1041")]  # cut short: kept

    source.fail_on = None
    await sync(backend, spec, source, SyncMode.INCREMENTAL)
    assert state(backend) == [("2026-03-09T12:00:00.000000Z", "999")]

    source.hold = None  # type: ignore[assignment]  # the entity left the xmin horizon
    await sync(backend, spec, source, SyncMode.FULL)
    assert state(backend) == [("2026-03-09T12:00:00.000000Z", None)]


async def test_a_replica_at_schema_version_1_is_upgraded_with_its_cursor(
    backend: Backend, tmp_path: Path
) -> None:
    spec = specs(tmp_path)["stock"]
    await sync(backend, spec, UnorderedListing(ROWS, CursorHold()), SyncMode.FULL)
    # What syncdeck made before schema version 2:
    backend.execute("DROP TABLE delete_candidates")
    backend.execute("ALTER TABLE sync_state DROP COLUMN horizon")
    backend.execute("UPDATE replica_meta SET schema_version = 1")

    target = reopened(backend).target(spec)
    try:
        assert target.state().cursor == "2026-03-09T12:00:00.000000Z"
        assert target.state().horizon is None
    finally:
        target.close()
    assert backend.query("SELECT schema_version FROM replica_meta") == [(2,)]
    assert backend.query("SELECT count(*) FROM delete_candidates") == [(0,)]


class PositionalListing(UnorderedListing):
    """A listing by position (`ShiftingSource`): it may skip a live row, so a row missed
    once is only a delete candidate; `gone` holds the keys whose own URL answers 404
    (None: no such URL)."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        super().__init__(rows, CursorHold())
        self.gone: set[tuple[str, ...]] | None = None
        self.asked_about: list[tuple[str, ...]] = []

    def listing_may_skip(self, entity: str) -> bool:
        return True

    async def item_gone(self, entity: str, key: tuple[str, ...]) -> bool | None:
        self.asked_about.append(key)
        return None if self.gone is None else key in self.gone


TEN = [(site, "A", Decimal(site), at(1)) for site in range(1, 11)]


def live_sites(backend: Backend) -> list[int]:
    rows = backend.query("SELECT site FROM stock WHERE deleted_at IS NULL ORDER BY site")
    return [row[0] for row in rows]


async def test_a_row_a_positional_listing_missed_once_is_only_a_delete_candidate(
    backend: Backend, tmp_path: Path
) -> None:
    spec = specs(tmp_path)["stock"]
    source = PositionalListing(TEN)
    await sync(backend, spec, source, SyncMode.FULL)
    without_5 = [row for row in TEN if row[0] != 5]

    source.rows = without_5  # 5 shifted out of sight while rows changed: still live
    await sync(backend, spec, source, SyncMode.FULL)
    assert live_sites(backend) == list(range(1, 11))
    assert backend.query("SELECT sync_key FROM delete_candidates") == [('[5,"A"]',)]

    source.rows = TEN  # listed again: no longer a candidate
    await sync(backend, spec, source, SyncMode.FULL)
    assert backend.query("SELECT sync_key FROM delete_candidates") == []

    source.rows = without_5  # missed by two complete passes in a row: deleted
    await sync(backend, spec, source, SyncMode.FULL)
    assert live_sites(backend) == list(range(1, 11))
    await sync(backend, spec, source, SyncMode.FULL)
    assert live_sites(backend) == [s for s in range(1, 11) if s != 5]
    assert backend.query("SELECT sync_key FROM delete_candidates") == []

    source.rows = [row for row in without_5 if row[0] != 7]  # 7's own URL answers 404
    source.gone, source.asked_about = {("7", "A")}, []
    await sync(backend, spec, source, SyncMode.FULL)
    assert source.asked_about == [("7", "A")]
    assert 7 not in live_sites(backend)


async def test_a_listing_that_cannot_skip_deletes_a_missed_row_at_once(
    backend: Backend, tmp_path: Path
) -> None:
    spec = specs(tmp_path)["stock"]
    source = UnorderedListing(TEN, CursorHold())
    await sync(backend, spec, source, SyncMode.FULL)
    source.rows = [row for row in TEN if row[0] != 5]
    await sync(backend, spec, source, SyncMode.FULL)
    assert 5 not in live_sites(backend)
