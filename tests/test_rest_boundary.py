"""No row lost at the cursor boundary, and a rate limit inside a whole run: a REST API that
lists in ascending cursor order (`sort`), served by the in-test server
(`support.restserver.Table.by_cursor`: json-server has no exclusive filter), synced through
a runner orchestrator built from a `syncdeck.toml` as `syncdeck daemon` builds it, and
compared with the server's records without syncdeck's code.

It shows, for `cursor` and for `next_url` pagination (pages commit their cursor as they
go), with ties larger than a page (100 records share one `updated_at`, pages of 40):
- after a full run, records added or changed at that very instant, the stored cursor,
  arrive with the next incremental run: with an inclusive filter the server is asked
  `updated_at_gte` = the stored cursor, and the records at it come again and count as
  unchanged; with an exclusive one it is asked `updated_at_gt` = the stored cursor less
  `lookback_s` (1 s unless given), and nothing is lost either (exact counts, and the
  replica equals the server);
- that this can fail: an exclusive filter with `lookback_s = 0` is refused by the
  configuration, and the engine run that way anyway (its spec's lookback set to 0, which
  no configuration can give) asks `updated_at_gt` = the stored cursor and loses every
  record added or changed at it.

And a page answered 429 with `Retry-After` is waited for and read again inside the run:
the run succeeds at its first attempt, with exact counts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from support.erpsync import config_text, replica_rows, running, sync, write_config
from support.restserver import Reply, RestServer, Seen, Table, serve

from core.config import ConfigError, load_settings
from core.models import RunCounts, SyncMode
from core.runtime import Hooks, open_replica
from core.runtime.services import entity_sources
from core.sync.engine import EngineSettings, EntitySyncService
from core.sync.service import RunContext

pytestmark = pytest.mark.timeout(120)

PAGE = 40
TIE = "2026-01-01T01:00:00Z"
"""The instant 100 records share, and the stored cursor after the first full run."""
STORED = "2026-01-01T01:00:00.000000Z"
"""`TIE` as the replica stores a cursor."""
ADDED = range(121, 131)
RENAMED = range(30, 35)
MOVED = 5
"""An older record changed to `TIE`."""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SYNCDECK_"):
            monkeypatch.delenv(key)


@pytest.fixture
def server() -> Iterator[RestServer]:
    yield from serve()


def record(i: int, updated_at: str, name: str | None = None) -> dict[str, Any]:
    return {"id": i, "name": name or f"Customer {i}", "updated_at": updated_at}


def tied_table() -> Table:
    """Records 1-20 a second apart an hour before `TIE`, 21-120 all at `TIE`."""
    table = Table(0)
    table.put(*(record(i, f"2026-01-01T00:00:{i:02d}Z") for i in range(1, 21)))
    table.put(*(record(i, TIE) for i in range(21, 121)))
    return table


def change_at_the_tie(table: Table) -> None:
    """New records at the stored cursor, records renamed there, an older one moved to it."""
    table.put(*(record(i, TIE) for i in ADDED))
    table.put(*(record(i, TIE, f"Customer {i} renamed") for i in RENAMED))
    table.put(record(MOVED, TIE, f"Customer {MOVED} moved"))


def entity(kind: str, *, inclusive: bool, **extra: Any) -> dict[str, Any]:
    pagination: dict[str, Any] = (
        {"kind": "cursor", "path": "meta.next", "param": "after"}
        if kind == "cursor"
        else {"kind": "next_url", "path": "links.next"}
    )
    return {
        "source": "api",
        "path": "customers",
        "records": "data",
        "key": "id",
        "cursor": "updated_at",
        "columns": {"id": "integer", "name": "text", "updated_at": "timestamp"},
        "sort": {"order_by": "updated_at"},
        "pagination": pagination,
        "incremental": {
            "param": "updated_at_gte" if inclusive else "updated_at_gt",
            "inclusive": inclusive,
        },
        **extra,
    }


def configure(data_dir: Path, server: RestServer, kind: str, **options: Any) -> None:
    source = {"kind": "rest", "base_url": server.url, "timeout_s": 10}
    text = config_text({"api": source}, {"customers": entity(kind, **options)}, batch_size=PAGE)
    write_config(data_dir, text)


def utc(text: str) -> str:
    """A timestamp as the replica writes one, worked out here."""
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def served(table: Table) -> set[tuple[Any, ...]]:
    with table.lock:
        return {(r["id"], r["name"], utc(r["updated_at"])) for r in table.records}


def held(data_dir: Path) -> set[tuple[Any, ...]]:
    rows = replica_rows(data_dir, "customers", "sync_key, id, name, updated_at")
    assert len(rows) == len({row[0] for row in rows}), "a record held twice"
    live = replica_rows(data_dir, "customers", "id, name, updated_at", "WHERE deleted_at IS NULL")
    return set(live)


def stored_cursor(data_dir: Path) -> str | None:
    found = replica_rows(data_dir, "sync_state", "cursor", "WHERE entity = 'customers'")
    return found[0][0] if found else None


@pytest.mark.parametrize("kind", ["cursor", "next_url"])
@pytest.mark.parametrize(
    ("inclusive", "param", "since"),
    [(True, "updated_at_gte", STORED), (False, "updated_at_gt", "2026-01-01T00:59:59.000000Z")],
    ids=["inclusive", "exclusive"],
)
async def test_ties_larger_than_a_page_at_the_stored_cursor_are_never_lost(
    server: RestServer, data_dir: Path, kind: str, inclusive: bool, param: str, since: str
) -> None:
    table = tied_table()
    next_url = kind == "next_url"
    server.route("/customers", lambda seen: table.by_cursor(seen, PAGE, next_url=next_url))
    configure(data_dir, server, kind, inclusive=inclusive)
    cursors: list[str | None] = []  # the stored cursor before each batch of the full run
    hooks = Hooks(before_batch_commit=lambda batch: cursors.append(stored_cursor(data_dir)))
    async with running(data_dir, hooks) as orch:
        first = await sync(orch, "customers", "full")
        assert (first.counts.fetched, first.counts.inserted) == (120, 120)
        # The first page (records 1-40) moved the cursor to the tie, 80 tied records still
        # unread: the boundary falls inside the tie, as a crash there would leave it.
        assert cursors == [None, STORED, STORED]
        assert stored_cursor(data_dir) == STORED
        assert held(data_dir) == served(table)

        change_at_the_tie(table)
        asked_before = len(server.requests("/customers"))
        second = await sync(orch, "customers", "incremental")
    asked = server.requests("/customers")[asked_before:]
    assert [s.query.get(param) for s in asked] == [since] * 3  # 111 records, pages of 40
    other = "updated_at_gt" if inclusive else "updated_at_gte"
    assert all(other not in s.query for s in asked)
    # The 111 records at the tie: 10 new, 6 changed (5 renamed there, 1 moved to it), and
    # the 95 others read again, unchanged.
    assert second.counts == RunCounts(fetched=111, inserted=10, updated=6, unchanged=95)
    assert held(data_dir) == served(table)
    assert stored_cursor(data_dir) == STORED


async def test_without_its_lookback_an_exclusive_filter_loses_the_ties(
    server: RestServer, data_dir: Path
) -> None:
    table = tied_table()
    server.route("/customers", lambda seen: table.by_cursor(seen, PAGE))
    configure(data_dir, server, "cursor", inclusive=False, lookback_s=0)
    with pytest.raises(ConfigError, match="0 with an exclusive filter loses the rows"):
        load_settings(None, data_dir)

    configure(data_dir, server, "cursor", inclusive=False)  # the default lookback, 1 s
    async with running(data_dir) as orch:
        await sync(orch, "customers", "full")
    assert stored_cursor(data_dir) == STORED
    change_at_the_tie(table)

    # The same engine, from the same configuration, with the lookback taken away.
    settings = load_settings(None, data_dir)
    spec, make_source = entity_sources(settings)["customers"]
    assert spec.lookback_s == 1.0
    without = msgspec.structs.replace(spec, lookback_s=0.0)
    engine = EntitySyncService(without, make_source, open_replica(settings), EngineSettings(PAGE))
    asked_before = len(server.requests("/customers"))
    incremental = SyncMode.INCREMENTAL
    run = RunContext(request_id=0, run_id=0, mode=incremental, mode_reason="test", attempt=1)
    counts = await engine.run(run)

    (asked,) = server.requests("/customers")[asked_before:]
    assert asked.query["updated_at_gt"] == STORED  # strictly after the tie: none of it
    assert counts == RunCounts()
    lost = served(table) - held(data_dir)
    assert sorted(row[0] for row in lost) == [MOVED, *RENAMED, *ADDED]


async def test_a_page_answered_429_is_waited_for_and_read_again_inside_the_run(
    server: RestServer, data_dir: Path
) -> None:
    table = Table(0)
    table.put(*(record(i, f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z") for i in range(1, 121)))

    def limited(seen: Seen) -> Reply:
        if len(server.requests("/customers")) == 2:  # the second page, the first time
            # Longer than the backoff without a hint (1 to 1.25 s): the wait is the hint's.
            return Reply(429, {"error": "slow down"}, headers={"Retry-After": "2"})
        return table.by_cursor(seen, PAGE)

    server.route("/customers", limited)
    configure(data_dir, server, "cursor", inclusive=True)
    async with running(data_dir) as orch:
        run = await sync(orch, "customers", "full")
    assert run.attempt == 1  # retried by the source, not by the orchestrator
    assert run.counts == RunCounts(fetched=120, inserted=120)
    assert held(data_dir) == served(table)
    _, limited_page, again, last = server.requests("/customers")
    assert limited_page.query == again.query and "after" in again.query
    assert again.at - limited_page.at >= 1.95
    assert "after" in last.query and last.query["after"] != again.query["after"]
