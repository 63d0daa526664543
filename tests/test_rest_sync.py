"""A shop's REST API synced end to end: json-server 0.17.4 (a real server nobody here
wrote) serving customers with nested contacts, decimal credits and lines in an array,
read through a runner orchestrator built as `syncdeck daemon` builds it, and compared
with the server without syncdeck's code (`support.restshop`).

It shows, for each of json-server's pagination kinds (`link_header`, `page`, `offset`):
- while a writer updates and creates records (and, with `offset`, deletes them), full
  and incremental runs keep every promise: after the writer stops, one incremental run
  brings every record and line exactly; after two complete full passes, the deleted
  records are deleted too, so the replica equals the source;
- an incremental run reads only what changed (`updated_at_gte`, inclusive: the records
  at the stored cursor come again and count as unchanged).

And for `offset`, whose listings shift when a record before the current page is deleted:
a record deleted in the middle of a full listing never makes a live record look deleted
(the shift is re-read), and a record missed by one full pass is only a delete candidate
unless its own URL answers 404 (`item_path`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.erpsync import config_text, replica_rows, running, sync, write_config
from support.jsonserver import JsonServer, missing_reason, running_json_server
from support.restshop import (
    Writer,
    customer,
    differences,
    replica,
    rest_source,
    shop_entity,
    source_rows,
)

from core.runtime import Hooks

pytestmark = pytest.mark.timeout(300)

SEEDED = 300


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SYNCDECK_"):
            monkeypatch.delenv(key)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[JsonServer]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    seeded = [customer(i) for i in range(1, SEEDED + 1)]
    with running_json_server(tmp_path / "shop", {"customers": seeded}) as made:
        yield made


def configure(data_dir: Path, server: JsonServer, kind: str, **options: bool) -> None:
    entities = {"customers": shop_entity(kind, **options)}
    write_config(data_dir, config_text({"shop": rest_source(server.url)}, entities, batch_size=40))


def assert_equal(server: JsonServer, data_dir: Path, *, deletions: bool = True) -> None:
    """The replica holds every source record and line exactly; with `deletions`, nothing
    more (without, rows deleted at the source may still wait for a full pass)."""
    customers, lines = source_rows(server)
    held, held_lines = replica(data_dir)
    if deletions:
        assert held == customers, differences(customers, held)
        assert held_lines == lines
    else:
        assert customers <= held, differences(customers, held)
        assert lines <= held_lines


@pytest.mark.parametrize("kind", ["link_header", "page", "offset"])
async def test_the_replica_equals_the_api_through_concurrent_changes(
    server: JsonServer, data_dir: Path, kind: str
) -> None:
    configure(data_dir, server, kind)
    async with running(data_dir) as orch:
        first = await sync(orch, "customers", "full")
        assert first.counts.inserted == SEEDED
        assert_equal(server, data_dir)

        # Deletes only where the listing can tell a shift (offset); see the module's
        # docstring and the README on page-numbered APIs.
        writer = Writer(server, list(range(1, SEEDED + 1)), deletes=kind == "offset", seed=7)
        writer.start()
        runs = 0
        try:  # a full run among incremental ones, until the writer has changed enough
            while runs < 6 or writer.changes < 100:
                await sync(orch, "customers", "full" if runs % 4 == 2 else "incremental")
                runs += 1
        finally:
            writer.finish()

        await sync(orch, "customers", "incremental")
        assert_equal(server, data_dir, deletions=False)

        for doomed in writer.ids[:5]:  # deleted between runs, for every kind
            server.delete("customers", doomed)
        await sync(orch, "customers", "full")
        await sync(orch, "customers", "full")
        assert_equal(server, data_dir)

        quiet = await sync(orch, "customers", "incremental")
        assert quiet.counts.inserted == quiet.counts.updated == 0
        assert quiet.counts.fetched <= 2 * 40, quiet.counts  # what the inclusive bound re-reads


async def test_a_record_deleted_mid_listing_never_makes_a_live_one_look_deleted(
    server: JsonServer, data_dir: Path
) -> None:
    configure(data_dir, server, "offset")
    armed, deleted = [False], []

    def delete_before_the_current_page(batch: int) -> None:
        if armed[0] and batch in (2, 4):  # records near the start: every later one shifts
            deleted.append(batch * 3)
            server.delete("customers", batch * 3)

    async with running(data_dir, Hooks(before_batch_commit=delete_before_the_current_page)) as orch:
        await sync(orch, "customers", "full")
        armed[0] = True
        await sync(orch, "customers", "full")
    assert deleted == [6, 12]
    customers, _ = source_rows(server)
    held, _ = replica(data_dir)
    assert customers <= held, differences(customers, held)  # no live record deleted


async def test_a_missed_record_is_a_candidate_until_a_second_pass_or_a_404(
    server: JsonServer, data_dir: Path
) -> None:
    configure(data_dir, server, "offset", item_path=True)
    async with running(data_dir) as orch:
        await sync(orch, "customers", "full")
        server.delete("customers", 17)
        await sync(orch, "customers", "full")  # missed once, and its URL answers 404
    deleted = replica_rows(data_dir, "customers", "id", "WHERE deleted_at IS NOT NULL")
    assert deleted == [(17,)]
    assert replica_rows(data_dir, "delete_candidates", "sync_key") == []
