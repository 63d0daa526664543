"""`syncdeck daemon` subprocesses SIGKILLed in the middle of a REST listing, a full one and
an incremental one, for an API that lists in cursor order and for one that does not; a
`syncdeck sync --wait --json` client waits for its request across the killed daemon and
the next, which runs it again. The replica is then compared with the API without
syncdeck's code: every record once (`sync_key` unique, as many as the API lists), none
lost, every column as the API has it.

It shows:
- sorted (`sort`, `cursor` pagination; the in-test server, `Table.by_cursor`, reached by
  the daemons on 127.0.0.1): the daemon is killed while the server holds back the third
  page of the listing, two pages committed. Each page moved the cursor with its rows (a
  full run's to the second page's last record; an incremental one's into a tie of 100
  records at one instant, 21 of them unread). The next daemon's run reads again from
  that cursor, inclusively: the tied records it had committed count as unchanged, the
  21 others as updated, the new ones as inserted; the replica equals the API.
- unsorted (json-server's `link_header` pages by id, no `sort`): the daemon is frozen
  before its fourth batch (a full run: three committed) or its second (an incremental
  one: one committed, the records of the page changed last) and killed there. The
  stored cursor has not moved (NULL before the first full pass, the full pass's after),
  so the next daemon's run reads the whole listing again and the replica equals the API.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SYNCDECK
from support.erpsync import config_text, replica_rows, write_config
from support.jsonserver import JsonServer, missing_reason, running_json_server
from support.procs import Daemons, cli_json, stop, wait_until
from support.restserver import Handler, Reply, RestServer, Seen, Table, serve
from support.restshop import customer, differences, replica, rest_source, shop_entity, source_rows

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PAGE = 40
BASE = datetime(2026, 1, 1, tzinfo=UTC)
TIE = "2026-01-01T01:00:00Z"
"""Where an incremental run's 100 changed records all are (ties larger than a page)."""


@pytest.fixture
def daemons(cli_env: dict[str, str], tmp_path: Path) -> Iterator[Daemons]:
    made = Daemons(cli_env, tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def rest() -> Iterator[RestServer]:
    yield from serve()


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[JsonServer]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    # Seeded an hour ago, one millisecond apart: a listing's cap (the server's Date, whole
    # seconds) is then above every seeded record, the cursor stops at record 400, and the
    # incremental lists exactly what the test changes and record 400.
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    seeded = [customer(i, at=an_hour_ago + timedelta(milliseconds=i)) for i in range(1, 401)]
    with running_json_server(tmp_path / "shop", {"customers": seeded}) as made:
        yield made


# -- a request waited for across daemons --------------------------------------------


@contextlib.contextmanager
def waiting(env: dict[str, str], mode: str) -> Iterator[subprocess.Popen[str]]:
    """`syncdeck sync customers --mode MODE --wait --json`, killed at exit if still waiting."""
    argv = [*SYNCDECK, "sync", "customers", "--mode", mode, "--wait", "--json", "--timeout", "240"]
    proc = subprocess.Popen(
        argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def run_of(client: subprocess.Popen[str], daemon: subprocess.Popen[bytes], d: Daemons) -> Any:
    """The run that ended the client's request (in `daemon`, which must stay up): it
    succeeded."""

    def ended() -> bool:
        assert daemon.poll() is None, d.tails()
        return client.poll() is not None

    wait_until(ended, 240, "the requeued run", d.tails)
    out, err = client.communicate(timeout=10)
    assert client.returncode == 0, f"{out}\n{err}\n{d.tails()}"
    result = json.loads(out)
    assert result["outcome"] == "succeeded", result
    return result["run"]


def counts(run: Any, **expected: int) -> None:
    """The run's counts are these, and 0 where not given."""
    zero = dict.fromkeys(("fetched", "inserted", "updated", "unchanged", "deleted", "rejected"), 0)
    assert run["counts"] == zero | expected, run


def outcomes(env: dict[str, str]) -> list[str]:
    return sorted(run["outcome"] for run in cli_json(env, "history", "customers"))


def stored_cursor(data_dir: Path) -> str | None:
    found = replica_rows(data_dir, "sync_state", "cursor", "WHERE entity = 'customers'")
    return found[0][0] if found else None


def held(data_dir: Path, columns: str = "count(*)", where: str = "") -> list[tuple[Any, ...]]:
    return replica_rows(data_dir, "customers", columns, where)


def assert_once_each(data_dir: Path, expected: int) -> None:
    """No record twice, none lost, none soft-deleted."""
    keys = held(data_dir, "sync_key, deleted_at")
    assert len(keys) == len({key for key, _ in keys}) == expected
    assert all(deleted is None for _, deleted in keys)


# -- sorted: the in-test server ------------------------------------------------------


def stamp(seconds: int) -> str:
    return (BASE + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(text: str) -> str:
    """A timestamp as the replica writes one, worked out here."""
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(i: int, updated_at: str, name: str | None = None) -> dict[str, Any]:
    return {"id": i, "name": name or f"Customer {i}", "updated_at": updated_at}


class Gate:
    """A listing's handler, whose answer to its `at`-th request from `arm` on is held back
    until `open` (where the daemon is killed); `before` keeps the records of the answers
    before it: what the engine has committed meanwhile."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.lock = threading.Lock()
        self.count, self.at = 0, 0
        self.before: list[dict[str, Any]] = []
        self.reached, self.released = threading.Event(), threading.Event()

    def arm(self, at: int) -> None:
        with self.lock:
            self.count, self.at, self.before = 0, at, []
            self.reached.clear()
            self.released.clear()

    def __call__(self, seen: Seen) -> Reply:
        reply = self.handler(seen)
        with self.lock:
            self.count += 1
            if self.count < self.at:
                self.before += reply.body["data"]
            hold = self.count == self.at
        if hold:
            self.reached.set()
            self.released.wait(60)
        return reply

    def open(self) -> None:
        with self.lock:
            self.at = 0
        self.released.set()


def sorted_entity() -> dict[str, Any]:
    return {
        "source": "api",
        "path": "customers",
        "records": "data",
        "key": "id",
        "cursor": "updated_at",
        "columns": {"id": "integer", "name": "text", "updated_at": "timestamp"},
        "sort": {"order_by": "updated_at"},
        "pagination": {"kind": "cursor", "path": "meta.next", "param": "after"},
        "incremental": {"param": "updated_at_gte", "inclusive": True},
    }


def served(records: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {(r["id"], r["name"], utc(r["updated_at"])) for r in records}


def listed(table: Table) -> list[dict[str, Any]]:
    with table.lock:
        return list(table.records)


def test_a_sorted_api_killed_mid_listing_loses_and_duplicates_nothing(
    rest: RestServer, daemons: Daemons, data_dir: Path, cli_env: dict[str, str]
) -> None:
    table = Table(0)
    table.put(*(record(i, stamp(i)) for i in range(1, 201)))
    gate = Gate(lambda seen: table.by_cursor(seen, PAGE))
    rest.route("/customers", gate)
    source = {"kind": "rest", "base_url": rest.url, "timeout_s": 10}
    entities = {"customers": sorted_entity()}
    write_config(data_dir, config_text({"api": source}, entities, batch_size=PAGE))

    def kill_when_held(daemon: subprocess.Popen[bytes]) -> list[str]:
        """Kill `daemon` once the third page is asked for and the two before it are
        committed: the `updated_at` of their records, in listing order."""

        def two_pages_committed() -> bool:
            rows = set(held(data_dir, "id, name, updated_at"))
            return gate.reached.is_set() and served(gate.before) <= rows

        wait_until(two_pages_committed, 120, "two pages committed", daemons.tails)
        daemons.sigkill(daemon)
        gate.open()
        assert stored_cursor(data_dir) == utc(gate.before[-1]["updated_at"])  # page by page
        return [utc(r["updated_at"]) for r in gate.before]

    # A full run killed while the third page is held back, two committed.
    gate.arm(3)
    first = daemons.start()
    with waiting(cli_env, "full") as client:
        assert len(kill_when_held(first)) == 80
        assert held(data_dir) == [(80,)]
        second = daemons.start()
        run = run_of(client, second, daemons)
    assert run["mode"] == "full", run
    counts(run, fetched=200, inserted=120, unchanged=80)
    assert_once_each(data_dir, 200)
    assert set(held(data_dir, "id, name, updated_at")) == served(listed(table))

    # 100 records changed at one instant, 20 new a second later: an incremental run killed
    # with 79 of the tie committed (after record 200, at the stored cursor), 21 not.
    table.put(*(record(i, TIE, f"Customer {i} v2") for i in range(51, 151)))
    table.put(*(record(i, stamp(3601)) for i in range(201, 221)))
    gate.arm(3)
    asked_before = len(rest.requests("/customers"))
    with waiting(cli_env, "incremental") as client:
        committed = kill_when_held(second)
        assert committed == [utc(stamp(200))] + [utc(TIE)] * 79  # the cursor inside the tie
        third = daemons.start()
        run = run_of(client, third, daemons)
    assert run["mode"] == "incremental", run
    asked = rest.requests("/customers")[asked_before:]
    assert asked[0].query["updated_at_gte"] == utc(stamp(200))  # the killed run
    assert asked[3].query["updated_at_gte"] == utc(TIE)  # the next, from the stored cursor
    counts(run, fetched=120, inserted=20, updated=21, unchanged=79)
    assert_once_each(data_dir, 220)
    assert set(held(data_dir, "id, name, updated_at")) == served(listed(table))
    assert outcomes(cli_env) == ["interrupted", "interrupted", "succeeded", "succeeded"]


# -- unsorted: json-server -----------------------------------------------------------


def frozen(pid: int) -> bool:
    """Whether `pid` is stopped (state T): a frozen daemon, before a batch."""
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state == "T"


def assert_equal(shop: JsonServer, data_dir: Path) -> None:
    customers, lines = source_rows(shop)
    live, live_lines = replica(data_dir)
    assert live == customers, differences(customers, live)
    assert live_lines == lines
    assert_once_each(data_dir, len(customers))


def test_an_unsorted_api_killed_mid_listing_keeps_its_cursor_and_loses_nothing(
    shop: JsonServer, daemons: Daemons, data_dir: Path, cli_env: dict[str, str]
) -> None:
    entity = shop_entity("link_header")
    assert "sort" not in entity  # `_sort=id` is a param: the listing is not in cursor order
    source = rest_source(shop.url)
    write_config(data_dir, config_text({"shop": source}, {"customers": entity}, batch_size=PAGE))

    # A full run frozen before its fourth batch, three committed, and killed there.
    first = daemons.start("--freeze-before-batch", "4")
    with waiting(cli_env, "full") as client:
        wait_until(lambda: frozen(first.pid), 120, "the daemon frozen", daemons.tails)
        daemons.sigkill(first)
        assert held(data_dir) == [(3 * PAGE,)]
        assert stored_cursor(data_dir) is None  # held until the listing completes
        second = daemons.start()
        run = run_of(client, second, daemons)
    assert run["mode"] == "full", run
    counts(run, fetched=400, inserted=280, unchanged=120)
    assert_equal(shop, data_dir)
    after_full = stored_cursor(data_dir)
    assert after_full is not None

    # Five new records, then 60 changed in descending id order: the listing's first page
    # (lowest ids) holds the latest changes, so a cursor moved by it would skip the rest.
    for i in range(401, 406):
        shop.create("customers", customer(i))
    changed = range(3, 363, 6)
    for i in reversed(changed):
        shop.update("customers", i, {k: v for k, v in customer(i, 1).items() if k != "id"})
    assert stop(second) == 0
    third = daemons.start("--freeze-before-batch", "2")
    with waiting(cli_env, "incremental") as client:
        wait_until(lambda: frozen(third.pid), 120, "the daemon frozen", daemons.tails)
        daemons.sigkill(third)
        names = dict(held(data_dir, "id, name"))
        arrived = [i for i in changed if names[i] == f"Customer {i} v1"]
        assert arrived == list(changed[:PAGE])  # the first page, committed
        assert stored_cursor(data_dir) == after_full  # not moved by it
        fourth = daemons.start()
        run = run_of(client, fourth, daemons)
    assert run["mode"] == "incremental", run
    # The whole listing again: the 40 committed and record 400 (at the stored cursor) come
    # again unchanged; the other 20 changed and the 5 new arrive.
    counts(run, fetched=66, inserted=5, updated=20, unchanged=41)
    assert_equal(shop, data_dir)
    assert outcomes(cli_env) == ["interrupted", "interrupted", "succeeded", "succeeded"]
