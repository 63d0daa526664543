"""The json-server fixture (`support.jsonserver`) serves what the REST source's tests rely
on: pages with `Link` headers and `X-Total-Count`, `_sort`, an `updated_at_gte` filter,
and changes made through its own API while it runs. Skipped, saying why, without node or
json-server 0.17.4 (`make tools` installs it)."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.jsonserver import JsonServer, missing_reason, running_json_server

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))

CUSTOMERS = [
    {"id": i, "name": f"c{i}", "updated_at": f"2026-01-0{1 + i % 3}T10:00:00.000000Z"}
    for i in range(1, 8)
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[JsonServer]:
    with running_json_server(tmp_path / "api", {"customers": CUSTOMERS}) as running:
        yield running


def fetch(server: JsonServer, path: str) -> tuple[list[dict[str, object]], dict[str, str]]:
    with urllib.request.urlopen(server.url + path, timeout=10) as response:
        return json.loads(response.read()), dict(response.headers)


def links(header: str) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', header)}


def test_pages_come_with_link_headers_in_the_order_asked(server: JsonServer) -> None:
    query = "customers?_sort=updated_at,id&_order=asc,asc&_page=1&_limit=3"
    seen: list[object] = []
    url: str | None = server.url + query
    pages = 0
    while url:
        body, headers = fetch(server, url.removeprefix(server.url))
        assert headers["X-Total-Count"] == "7"
        seen += [(r["updated_at"], r["id"]) for r in body]
        url = links(headers.get("Link", "")).get("next")
        pages += 1
    assert pages == 3  # 3 + 3 + 1, and the last page has no "next"
    assert seen == sorted((r["updated_at"], r["id"]) for r in CUSTOMERS)


def test_updated_at_gte_filters_and_changes_show_at_once(server: JsonServer) -> None:
    since = "2026-01-02T10:00:00.000000Z"
    body, _ = fetch(server, f"customers?updated_at_gte={since}&_sort=updated_at,id")
    assert [r["id"] for r in body] == [1, 4, 7, 2, 5]  # at `since` included, in order

    server.update("customers", 3, {"name": "moved"})  # stamped now: after every other
    server.create("customers", {"id": 50, "name": "new"})
    server.delete("customers", 5)
    body, _ = fetch(server, f"customers?updated_at_gte={since}&_sort=updated_at,id")
    assert [r["id"] for r in body] == [1, 4, 7, 2, 3, 50]
    assert server.record("customers", 5) is None
    assert {r["id"] for r in server.records("customers")} == {1, 2, 3, 4, 6, 7, 50}
