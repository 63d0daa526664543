"""A real HTTP server for the REST source's tests: stdlib `ThreadingHTTPServer` on a free
loopback port, in a thread, answering each path with a test's own handler.

A handler gets the request as the server saw it (`Seen`: method, path, query, headers,
body, when) and returns a `Reply` (status, a JSON body or raw bytes, headers, or a hang
until the server stops). Every request is kept in `seen`, in arrival order. Replies carry
a `Date` header (the real time unless the reply sets one; `None` leaves it out).

`Table` is a small mutable listing of records (by id) with the usual paging shapes, so a
test can delete a row between two pages; `Table.by_cursor` is an API that sorts by its
cursor and filters on it, inclusively (`updated_at_gte`) or not (`updated_at_gt`, which
json-server lacks), paged by keyset.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-case names."""
    body: str
    at: float
    """`time.monotonic()` when it arrived."""


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    """Sent as JSON (unless `raw` is given)."""
    raw: bytes | str | None = None
    headers: dict[str, str | None] = field(default_factory=dict)
    hang: bool = False
    """Never answer (until the server stops)."""


Handler = Callable[[Seen], Reply]


class RestServer:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.seen: list[Seen] = []
        self.released = threading.Event()
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                parts = urlsplit(self.path)
                seen = Seen(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                with server._lock:
                    server.seen.append(seen)
                    handler = server.routes.get(parts.path)
                reply = handler(seen) if handler else Reply(404, {"error": "no such path"})
                if reply.hang:
                    server.released.wait(60)
                    self.close_connection = True
                    return
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                if reply.raw is not None:
                    raw = reply.raw.encode() if isinstance(reply.raw, str) else reply.raw
                else:
                    raw = json.dumps(reply.body).encode()
                headers: dict[str, str | None] = {
                    "Content-Type": "application/json",
                    "Date": formatdate(usegmt=True),
                    **reply.headers,
                }
                self.send_response_only(reply.status)
                for name, value in headers.items():
                    if value is not None:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> RestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    def route(self, path: str, handler: Handler) -> None:
        with self._lock:
            self.routes[path] = handler

    def requests(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]


def serve() -> Iterator[RestServer]:
    """For a fixture: `yield from serve()`."""
    with RestServer() as server:
        yield server


class Table:
    """Records by id, in id order; `after_read` runs once after each GET it served (a test's
    change between two pages)."""

    def __init__(self, count: int, **extra: Any) -> None:
        self.records = [
            {"id": i, "name": f"c{i}", "updated_at": f"2026-01-01T00:00:{i:02d}Z", **extra}
            for i in range(1, count + 1)
        ]
        self.lock = threading.Lock()
        self.after_read: Callable[[Seen], None] | None = None

    def ids(self) -> list[int]:
        with self.lock:
            return [r["id"] for r in self.records]

    def delete(self, record_id: int) -> None:
        with self.lock:
            self.records = [r for r in self.records if r["id"] != record_id]

    def put(self, *records: dict[str, Any]) -> None:
        """Add records, or replace those with the same id (kept in id order)."""
        with self.lock:
            kept = {r["id"]: r for r in self.records}
            kept.update({r["id"]: dict(r) for r in records})
            self.records = [kept[i] for i in sorted(kept)]

    def _then(self, seen: Seen, reply: Reply) -> Reply:
        if self.after_read is not None:
            self.after_read(seen)
        return reply

    def offset(self, seen: Seen) -> Reply:
        start, size = int(seen.query.get("offset", 0)), int(seen.query.get("limit", 100))
        with self.lock:
            chunk = self.records[start : start + size]
        return self._then(seen, Reply(body={"data": chunk}))

    def page(self, seen: Seen, *, total: bool = True) -> Reply:
        number, size = int(seen.query.get("page", 1)), int(seen.query.get("per_page", 100))
        with self.lock:
            chunk = self.records[(number - 1) * size : number * size]
            count = len(self.records)
        body: dict[str, Any] = {"data": chunk}
        if total:
            body["meta"] = {"total": count}
        return self._then(seen, Reply(body=body))

    def cursor(self, seen: Seen, size: int) -> Reply:
        """Tokens are the next index, as text; the last page's is null."""
        start = int(seen.query.get("cursor") or 0)
        with self.lock:
            chunk = self.records[start : start + size]
            more = start + size < len(self.records)
        body = {"data": chunk, "meta": {"next": str(start + size) if more else None}}
        return self._then(seen, Reply(body=body))

    def by_cursor(self, seen: Seen, size: int, *, next_url: bool = False) -> Reply:
        """An API that sorts by its cursor: records in ascending (updated_at, id) order,
        `updated_at` compared as an instant, filtered by `updated_at_gte` (>=) or
        `updated_at_gt` (>), in pages of `size` chained by keyset: the last record's
        updated_at and id (`after`), never a position, so a record changed meanwhile moves
        past the page being read. The keyset goes back as `after`, given at `meta.next`,
        or with `next_url` in a URL at `links.next` that keeps the request's parameters.
        A request without `order_by=updated_at` (what the entity's `sort` sends) is a 400."""
        query = seen.query
        if query.get("order_by") != "updated_at":
            return Reply(400, {"error": "this listing needs order_by=updated_at"})

        def place(record: dict[str, Any]) -> tuple[datetime, int]:
            return _instant(record["updated_at"]), record["id"]

        with self.lock:
            listed = sorted(self.records, key=place)
        if "updated_at_gte" in query:
            listed = [r for r in listed if place(r)[0] >= _instant(query["updated_at_gte"])]
        if "updated_at_gt" in query:
            listed = [r for r in listed if place(r)[0] > _instant(query["updated_at_gt"])]
        if query.get("after"):
            stamp, _, last = query["after"].rpartition(",")
            listed = [r for r in listed if place(r) > (_instant(stamp), int(last))]
        chunk, more = listed[:size], len(listed) > size
        after = f"{chunk[-1]['updated_at']},{chunk[-1]['id']}" if more else None
        body: dict[str, Any] = {"data": chunk}
        if next_url:
            link = None if after is None else f"{seen.path}?{urlencode({**query, 'after': after})}"
            body["links"] = {"next": link}
        else:
            body["meta"] = {"next": after}
        return self._then(seen, Reply(body=body))


def _instant(text: str) -> datetime:
    """An ISO-8601 timestamp with its offset (`Z` included), as an aware datetime."""
    return datetime.fromisoformat(text)
