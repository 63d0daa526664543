"""The REST source's first page and beyond, against a real HTTP server in the test: the
cursor hold a listing not in cursor order carries, page tokens that are not this listing's,
`item_gone` and `check`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from support.restserver import Reply, RestServer, Seen, Table, serve
from support.restspecs import COLUMNS, CURSOR, OFFSET, customers, source, walk

from core.errors import SourceError
from core.sources.base import CursorHold
from core.sources.rest.mapping import Pagination, RestColumn, RestSourceSpec
from core.sources.rest.source import RestSource

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def server() -> Iterator[RestServer]:
    yield from serve()


FIXED_DATE = "Tue, 03 Mar 2026 10:00:00 GMT"


async def test_the_first_page_holds_the_cursor_at_the_servers_date_when_unsorted(
    server: RestServer,
) -> None:
    table = Table(5)

    def listing(seen: Seen) -> Reply:
        reply = table.cursor(seen, 3)
        reply.headers["Date"] = FIXED_DATE
        return reply

    server.route("/customers", listing)
    async with source(server, customers(CURSOR)) as src:  # no sort: the API's order is unknown
        first, second = await walk(src)
    assert first.hold == CursorHold(cap=datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    assert second.hold is None  # the engine reads the first page's only


async def test_a_sorted_offset_listing_is_still_held_and_no_date_means_no_cap(
    server: RestServer,
) -> None:
    server.route("/customers", lambda seen: Reply(body={"data": []}, headers={"Date": None}))
    entity = customers(OFFSET, sort={"sort": "updated_at"})
    async with source(server, entity) as src:
        page = await src.page("customers", None, None, 100)
    assert page.hold == CursorHold(cap=None)


async def test_a_page_token_that_does_not_decode_is_a_permanent_error(server: RestServer) -> None:
    async with source(server, customers(CURSOR)) as src:
        with pytest.raises(SourceError, match="does not decode"):
            await src.page("customers", None, "not a token", 100)
        with pytest.raises(SourceError, match="is not this listing's"):
            await src.page("customers", None, '{"e":"orders","c":"3"}', 100)


async def test_item_gone_says_whether_a_record_still_exists(server: RestServer) -> None:
    server.route("/customers/1", lambda seen: Reply(body={"id": 1}))
    server.route("/customers/a%2Fb", lambda seen: Reply(body={"id": "a/b"}))
    entity = customers(Pagination(), item_path="customers/{id}")
    async with source(server, entity) as src:
        assert await src.item_gone("customers", (1,)) is False
        assert await src.item_gone("customers", (2,)) is True  # the server's 404
        assert await src.item_gone("customers", ("a/b",)) is False  # the key is quoted


async def test_check_names_missing_paths_a_descending_cursor_and_reads_a_second_page(
    server: RestServer,
) -> None:
    table = Table(5)
    table.records.reverse()  # descending, though sort claims ascending
    server.route("/customers", lambda seen: table.cursor(seen, 3))
    columns = (*COLUMNS[:2], RestColumn("email", "contact.email"), COLUMNS[2])
    entity = customers(CURSOR, columns=columns, sort={"sort": "updated_at"})
    async with source(server, entity) as src:
        found = await src.check("customers")
    assert any("email (contact.email)" in p for p in found.problems)
    assert any("cursor descends" in p for p in found.problems)
    assert found.second_page is True
    assert found.samples[0]["id"] == 5 and found.rows[0]["email"] is None
    assert found.cursors[:2] == ["2026-01-01T00:00:05Z", "2026-01-01T00:00:04Z"]


async def test_check_of_an_unreachable_api_is_a_problem_not_an_exception() -> None:
    spec = RestSourceSpec(name="erp", base_url="http://127.0.0.1:9", retries=0, backoff_s=0.01)
    async with RestSource(spec, {"customers": customers(Pagination())}) as src:
        found = await src.check("customers")
    assert found.records is None
    assert found.problems and found.problems[0].startswith('rest source "erp"')


async def test_a_page_token_that_leads_outside_the_api_is_refused(server: RestServer) -> None:
    entity = customers(Pagination(kind="next_url", path="next"))
    async with source(server, entity) as src:
        with pytest.raises(SourceError, match="leads outside the API"):
            await src.page("customers", None, '{"e":"customers","url":"http://evil.example/x"}', 9)
    assert server.seen == []


async def test_a_next_url_on_another_origin_is_refused_before_the_credential_goes_there(
    server: RestServer,
) -> None:
    body = {"data": [{"id": 1}], "next": "//evil.example/customers?page=2"}
    server.route("/customers", lambda seen: Reply(body=body))
    entity = customers(Pagination(kind="next_url", path="next"))
    async with source(server, entity) as src:
        with pytest.raises(SourceError, match="leaves the API's origin"):
            await src.page("customers", None, None, 9)
