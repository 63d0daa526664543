"""Mappings and walks for the REST source's tests (`tests/test_rest_source*.py`): a
`customers` entity over `support.restserver.Table`'s records, a source on a test server,
and a listing read to its end."""

from __future__ import annotations

from typing import Any

from core.sources.base import Page
from core.sources.rest.mapping import Pagination, RestColumn, RestEntity, RestSourceSpec
from core.sources.rest.source import RestSource
from support.restserver import RestServer

COLUMNS = (
    RestColumn("id", "id"),
    RestColumn("name", "name"),
    RestColumn("updated_at", "updated_at"),
)
CURSOR = Pagination(kind="cursor", path="meta.next", param="cursor")
"""`Table.cursor`'s shape."""
OFFSET = Pagination(kind="offset", param="offset", limit_param="limit", limit=4)
"""`Table.offset`'s shape, four records a page."""


def customers(pagination: Pagination, **kw: Any) -> RestEntity:
    fields: dict[str, Any] = {"records": "data", "columns": COLUMNS, **kw}
    return RestEntity(
        name="customers",
        path="customers",
        key=("id",),
        cursor="updated_at",
        cursor_kind="timestamp",
        pagination=pagination,
        **fields,
    )


def source(server: RestServer, *entities: RestEntity, **spec: Any) -> RestSource:
    """A source named "erp" on `server`, quick to retry (backoff 0.05 s)."""
    fields: dict[str, Any] = {"backoff_s": 0.05, "timeout_s": 5, **spec}
    made = RestSourceSpec(name="erp", base_url=server.url, **fields)
    return RestSource(made, {e.name: e for e in entities})


async def walk(src: RestSource, entity: str = "customers", since: str | None = None) -> list[Page]:
    """Every page of a listing, as the engine reads them; fails if it does not end."""
    pages: list[Page] = []
    token = None
    for _ in range(100):
        page = await src.page(entity, since, token, 100)
        pages.append(page)
        if page.next is None:
            return pages
        token = page.next
    raise AssertionError("the listing never ended")


def ids(pages: list[Page]) -> list[int]:
    return [row[0] for page in pages for row in page.rows or []]
