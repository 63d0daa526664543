"""The declarative REST source against a real HTTP server in the test (`support.restserver`):
pagination of every kind and where it ends, a listing that shifts under deletes, the
incremental filter, exact numbers and child rows. The cursor hold, page tokens, item checks
and `check` are in `test_rest_source_check.py`; failures, retries and authentication in
`test_rest_source_failures.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from itertools import count
from typing import Any

import httpx
import msgspec
import pytest
from support.restserver import Reply, RestServer, Seen, Table, serve
from support.restspecs import CURSOR, OFFSET, customers, ids, source, walk

from core.errors import SourceError, SourceUnavailable
from core.sources.base import CursorHold
from core.sources.rest.mapping import (
    Incremental,
    Pagination,
    RestChild,
    RestColumn,
    RestEntity,
    RestSourceSpec,
)
from core.sources.rest.source import RestSource

pytestmark = pytest.mark.timeout(30)

SINCE = "2026-01-02T03:04:05.678000Z"


@pytest.fixture
def server() -> Iterator[RestServer]:
    yield from serve()


async def test_cursor_pages_send_the_token_back_and_end_on_a_null_one(server: RestServer) -> None:
    table = Table(7)
    server.route("/customers", lambda seen: table.cursor(seen, 3))
    entity = customers(CURSOR, params={"status": "all"}, sort={"order_by": "updated_at"})
    async with source(server, entity) as src:
        pages = await walk(src)
    assert ids(pages) == list(range(1, 8))
    assert pages[0].columns == ("id", "name", "updated_at")
    sent = server.requests("/customers")
    assert [s.query.get("cursor") for s in sent] == [None, "3", "6"]
    assert all(s.query["status"] == "all" and s.query["order_by"] == "updated_at" for s in sent)
    assert pages[0].hold is None  # sorted by the cursor, read by token: pages commit as they go


async def test_next_urls_are_followed_relative_to_the_request_until_none(
    server: RestServer,
) -> None:
    table = Table(7)

    def listing(seen: Seen) -> Reply:
        start = int(seen.query.get("from", 0))
        body: dict[str, Any] = {"data": table.records[start : start + 3]}
        if start + 3 < 7:
            body["links"] = {"next": f"customers?from={start + 3}"}  # relative
        return Reply(body=body)

    server.route("/api/customers", listing)
    entity = customers(Pagination(kind="next_url", path="links.next"))
    spec = RestSourceSpec(name="erp", base_url=f"{server.url}/api/", backoff_s=0.05)
    async with RestSource(spec, {"customers": entity}) as src:
        pages = await walk(src)
    assert ids(pages) == list(range(1, 8))
    assert [s.query.get("from") for s in server.requests("/api/customers")] == [None, "3", "6"]


async def test_a_repeating_cursor_token_is_a_permanent_error_not_a_loop(
    server: RestServer,
) -> None:
    table = Table(3)
    server.route(
        "/customers", lambda seen: Reply(body={"data": table.records, "meta": {"next": "abc"}})
    )
    async with source(server, customers(CURSOR)) as src:
        first = await src.page("customers", None, None, 100)
        with pytest.raises(SourceError) as caught:
            await src.page("customers", None, first.next, 100)
    assert 'rest source "erp", entity "customers"' in str(caught.value)
    assert "gave back the cursor it was sent" in str(caught.value)
    assert len(server.requests("/customers")) == 2


async def test_a_repeating_next_url_is_a_permanent_error_not_a_loop(server: RestServer) -> None:
    table = Table(3)
    body = {"data": table.records, "next": f"{server.url}/customers?page=2"}
    server.route("/customers", lambda seen: Reply(body=body))
    async with source(server, customers(Pagination(kind="next_url", path="next"))) as src:
        first = await src.page("customers", None, None, 100)
        with pytest.raises(SourceError, match="repeats the one just read"):
            await src.page("customers", None, first.next, 100)
    assert len(server.requests("/customers")) == 2


def delete_after_first_page(table: Table, record_id: int) -> None:
    """Row `record_id` is deleted once the first page (offset 0) has been served."""
    done: list[bool] = []

    def hook(seen: Seen) -> None:
        if not done and seen.query.get("offset") == "0":
            done.append(True)
            table.delete(record_id)

    table.after_read = hook


async def test_offset_listing_misses_no_live_row_when_a_row_is_deleted_meanwhile(
    server: RestServer,
) -> None:
    table = Table(10)
    server.route("/customers", table.offset)

    delete_after_first_page(table, 2)  # the control: a plain offset walk loses a live row
    plain: list[int] = []
    async with httpx.AsyncClient(base_url=server.url) as client:
        for offset in range(0, 12, 4):
            answer = await client.get("/customers", params={"offset": offset, "limit": 4})
            plain += [r["id"] for r in answer.json()["data"]]
    assert 5 in table.ids() and 5 not in plain

    table = Table(10)
    server.route("/customers", table.offset)
    delete_after_first_page(table, 2)
    server.seen.clear()
    async with source(server, customers(OFFSET)) as src:
        pages = await walk(src)
    listed = ids(pages)
    assert set(table.ids()) <= set(listed)  # every live row, 5 included
    offsets = [int(s.query["offset"]) for s in server.requests("/customers")]
    assert offsets == [0, 3, 0, 3, 6]  # the shift seen at 3: a page back, then on
    assert all(s.query["limit"] == "4" for s in server.requests("/customers"))


async def test_an_offset_listing_that_keeps_shifting_is_transient_not_endless(
    server: RestServer,
) -> None:
    made = count(1)  # every answer holds records never seen before: nothing stays put

    def listing(seen: Seen) -> Reply:
        return Reply(body={"data": [{"id": next(made)} for _ in range(4)]})

    server.route("/customers", listing)
    async with source(server, customers(OFFSET)) as src:
        with pytest.raises(SourceUnavailable) as caught:
            await walk(src)
    assert "the listing kept shifting while it was read (20 pages read again)" in str(caught.value)
    assert len(server.requests("/customers")) == 42  # 1st, 21 shifted, 20 read again


async def test_page_listing_ends_at_its_total_without_asking_for_more(server: RestServer) -> None:
    table = Table(6)
    server.route("/customers", table.page)
    paging = Pagination(
        kind="page", param="page", size_param="per_page", size=3, total_path="meta.total"
    )
    async with source(server, customers(paging)) as src:
        pages = await walk(src)
        assert await src.estimate("customers", None) == 6
    assert ids(pages) == list(range(1, 7))
    assert [s.query["page"] for s in server.requests("/customers")][:2] == ["1", "2"]
    assert len(server.requests("/customers")) == 3  # two pages, then the estimate's


async def test_page_listing_whose_total_changes_reads_the_previous_page_again(
    server: RestServer,
) -> None:
    table = Table(9)
    server.route("/customers", table.page)
    done: list[bool] = []

    def hook(seen: Seen) -> None:
        if not done and seen.query["page"] == "1":
            done.append(True)
            table.delete(1)  # page 2 now starts at id 5: id 4 moved to page 1

    table.after_read = hook
    paging = Pagination(
        kind="page", param="page", size_param="per_page", size=3, total_path="meta.total"
    )
    async with source(server, customers(paging)) as src:
        pages = await walk(src)
    assert set(table.ids()) <= set(ids(pages))
    assert [s.query["page"] for s in server.requests("/customers")] == ["1", "2", "1", "2", "3"]


async def test_link_header_pages_follow_rel_next_in_any_of_its_spellings(
    server: RestServer,
) -> None:
    table = Table(7)
    links = {
        "1": f'<{server.url}/customers?page=1>; rel="first", </customers?page=2>; rel="next"',
        "2": '</customers?page=3>; title="a, b"; rel="next last",<customers?page=1>; rel=first',
        "3": "</customers?page=1>; rel=first",
    }

    def listing(seen: Seen) -> Reply:
        number = seen.query.get("page", "1")
        start = (int(number) - 1) * 3
        headers: dict[str, str | None] = {"Link": links[number], "X-Total-Count": "7"}
        return Reply(body={"data": table.records[start : start + 3]}, headers=headers)

    server.route("/customers", listing)
    async with source(server, customers(Pagination(kind="link_header"))) as src:
        pages = await walk(src)
    assert ids(pages) == list(range(1, 8))
    assert [s.query.get("page") for s in server.requests("/customers")] == [None, "2", "3"]
    assert isinstance(pages[0].hold, CursorHold)  # positional: the cursor waits for the end


async def test_link_header_listing_whose_total_changes_reads_the_previous_page_again(
    server: RestServer,
) -> None:
    table = Table(9)

    def listing(seen: Seen) -> Reply:
        number = int(seen.query.get("page", "1"))
        with table.lock:
            chunk, total = table.records[(number - 1) * 3 : number * 3], len(table.records)
        more = f"</customers?page={number + 1}>; rel=next" if number * 3 < total else None
        if number == 1 and len(table.ids()) == 9:
            table.delete(1)  # after this page: id 4 moves onto page 1
        return Reply(body={"data": chunk}, headers={"Link": more, "X-Total-Count": str(total)})

    server.route("/customers", listing)
    async with source(server, customers(Pagination(kind="link_header"))) as src:
        pages = await walk(src)
    assert set(table.ids()) <= set(ids(pages))
    assert [s.query.get("page") for s in server.requests("/customers")] == [
        None,
        "2",
        None,
        "2",
        "3",
    ]


async def test_an_exclusive_filter_sends_since_with_the_params_and_sort(server: RestServer) -> None:
    server.route("/customers", lambda seen: Reply(body={"data": []}))
    entity = customers(
        Pagination(),
        params={"expand": "contact"},
        sort={"sort": "updated_at:asc"},
        incremental=Incremental(param="updated_after", inclusive=False),
    )
    async with source(server, entity) as src:
        assert len(await src.page("customers", SINCE, None, 100)) == 0
        await src.page("customers", None, None, 100)
    since, everything = server.requests("/customers")
    assert since.query == {"expand": "contact", "sort": "updated_at:asc", "updated_after": SINCE}
    assert "updated_after" not in everything.query


@pytest.mark.parametrize(
    ("fmt", "sent"),
    [("unix", "1767323045"), ("unix_ms", "1767323045678"), ("%d/%m/%Y %H:%M", "02/01/2026 04:04")],
)
async def test_incremental_formats(server: RestServer, fmt: str, sent: str) -> None:
    server.route("/customers", lambda seen: Reply(body={"data": []}))
    entity = customers(Pagination(), incremental=Incremental(param="since", format=fmt))
    async with source(server, entity, timezone="Europe/Rome") as src:
        await src.page("customers", SINCE, None, 100)
    assert server.requests("/customers")[0].query["since"] == sent


async def test_an_integer_cursor_is_sent_as_the_number_not_as_the_replica_keeps_it(
    server: RestServer,
) -> None:
    server.route("/customers", lambda seen: Reply(body={"data": []}))
    entity = msgspec.structs.replace(
        customers(Pagination(), incremental=Incremental(param="rev_gte")), cursor_kind="integer"
    )
    async with source(server, entity) as src:
        await src.page("customers", "00000000000000000042", None, 100)  # as sync_state has it
    assert server.requests("/customers")[0].query["rev_gte"] == "42"


async def test_a_since_that_is_not_a_timestamp_is_a_permanent_error(server: RestServer) -> None:
    entity = customers(Pagination(), incremental=Incremental(param="since", format="unix"))
    async with source(server, entity) as src:
        with pytest.raises(SourceError, match="is not an ISO-8601 timestamp"):
            await src.page("customers", "yesterday", None, 100)
    assert server.seen == []


async def test_numbers_stay_exact(server: RestServer) -> None:
    raw = '{"data": [{"id": 1, "price": 0.1, "big": 99999999999999999999.99, "text": "12.30"}]}'
    server.route("/customers", lambda seen: Reply(raw=raw))
    columns = (
        RestColumn("id", "id"),
        RestColumn("price", "price"),
        RestColumn("big", "big"),
        RestColumn("text", "text"),
        RestColumn("updated_at", "updated_at"),
    )
    async with source(server, customers(Pagination(), columns=columns)) as src:
        page = await src.page("customers", None, None, 100)
    assert page.rows == [
        (1, Decimal("0.1"), Decimal("99999999999999999999.99"), "12.30", None)  # no cursor: None
    ]
    assert isinstance(page.rows[0][0], int)


async def test_records_that_are_not_a_list_are_a_permanent_error(server: RestServer) -> None:
    server.route("/customers", lambda seen: Reply(body={"data": {"id": 1}}))
    async with source(server, customers(Pagination())) as src:
        with pytest.raises(SourceError) as caught:
            await src.page("customers", None, None, 100)
    message = str(caught.value)
    assert message.startswith('rest source "erp", entity "customers": GET /customers')
    assert "expected a list of records at 'data', found dict" in message
    assert "\n" not in message


async def test_child_rows_come_from_each_records_array_with_the_parent_key(
    server: RestServer,
) -> None:
    orders = [
        {"id": 7, "updated_at": SINCE, "lines": [{"no": 1, "qty": 2.5}, {"no": 2, "qty": 1}]},
        {"id": 8, "updated_at": SINCE},  # no array: no lines
        {"id": 9, "updated_at": SINCE, "lines": None},
    ]
    server.route(
        "/orders", lambda seen: Reply(raw=str(orders).replace("'", '"').replace("None", "null"))
    )
    entity = RestEntity(
        name="orders",
        path="orders",
        columns=(RestColumn("id", "id"), RestColumn("updated_at", "updated_at")),
        key=("id",),
        cursor="updated_at",
        cursor_kind="timestamp",
        child=RestChild(
            field="lines",
            parent="order_id",
            columns=(
                RestColumn("order_id", "order_id"),
                RestColumn("no", "no"),
                RestColumn("qty", "qty"),
            ),
            key=("order_id", "no"),
        ),
    )
    async with source(server, entity) as src:
        page = await src.page("orders", None, None, 100)
    assert page.children == [[(7, 1, Decimal("2.5")), (7, 2, 1)], [], []]
