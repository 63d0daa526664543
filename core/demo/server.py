"""`syncdeck demo-erp serve`: the demo ERP as a REST JSON API.

This is the contract the http source (`core.sources.http.HttpSource`) reads,
and so the contract an adapter in front of a real ERP implements. The demo
serves it from its own SQLite file in the data directory, with the
`demo.faults` knobs applied on the server side (errors, latency, a hang,
malformed records, a truncated full listing).

API, version 1. Every body is JSON (`Content-Type: application/json`).

Authentication
    When the server has a token, every request but `GET /health` must carry
    `Authorization: Bearer <token>`; a missing or wrong token gets
    401 `{"error": "..."}` (with `WWW-Authenticate: Bearer`).

`GET /v1/{entity}?since=CURSOR&page_token=TOKEN&limit=N`
    One page of the entity's records (`customers`, `products`, `prices`,
    `orders`), ordered by (`updated_at`, key), where the key is `id`, or `sku`
    for products. 200 `{"records": [...], "next_page_token": string | null}`.

    - `since` (optional): only records whose cursor `updated_at` is >= it. A
      cursor is a UTC ISO-8601 timestamp ending in Z, e.g.
      `2026-01-01T00:00:05Z`; cursors compare as text. Without it, all records.
    - `page_token` (optional): the `next_page_token` of the previous page,
      passed back unchanged with the same `since`; without it, the first page.
      Tokens are opaque to the client.
    - `limit` (optional): page size, 1 to 10000, default 1000. A page may hold
      fewer records than `limit` and still not be the last.
    - `next_page_token` is null on the last page only.
    - An empty `since` or `page_token` counts as absent.

    A record is a flat JSON object of its fields (see `core.entities`);
    an order also carries `lines`, a list of `{line_no, sku, quantity,
    unit_price}`. Records that do not validate are the client's problem: it
    quarantines them, so one bad record never breaks paging.

`GET /v1/{entity}/count?since=CURSOR`
    200 `{"count": N}`: how many records a listing with that `since` holds
    (used only for progress).

`GET /health`
    200 `{"status": "ok"}`, without authentication.

Errors, all as `{"error": "message"}`
    - 400: a bad parameter (`limit` not a whole number from 1 to 10000, a
      malformed `since` or `page_token`, an unknown or repeated parameter);
    - 401: missing or wrong bearer token;
    - 404: unknown entity or path;
    - 405: a method other than GET;
    - 503: the ERP is unavailable for now (the `error_rate` fault); retry later;
    - 500: an unexpected server error.
    Clients treat 5xx, 408 and 429 as transient and every other 4xx as permanent.
    The `hang_after_pages` fault makes a page request never answer: the
    client's timeout ends it.

The server listens until cancelled, SIGINT or SIGTERM. When it listens, it
prints one line to stdout, `demo ERP serving on http://HOST:PORT` (with the
real port when asked for port 0).

Query parameters are checked in `core.demo.params`; pages come from a
`core.demo.source.DemoSource` over the ERP file of the settings given.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import json
import logging
import signal
import socket
import sys
import threading
from collections.abc import Coroutine
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

import msgspec

from core.config import DemoFaults, Settings
from core.demo import params
from core.demo.erp import open_demo_erp
from core.demo.generation import KEYS
from core.demo.source import DemoSource, is_page_token
from core.errors import SourceError, SourceUnavailable
from core.sources.http import API_PREFIX

log = logging.getLogger(__name__)

T = TypeVar("T")
Reply = tuple[int, dict[str, Any]]

_POLL_INTERVAL_S = 0.2


class _DemoServer(ThreadingHTTPServer):
    """Threads parse HTTP; the DemoSource's coroutines run on the serving event loop."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        family: socket.AddressFamily,
        source: DemoSource,
        loop: asyncio.AbstractEventLoop,
        token: str | None,
    ) -> None:
        self.address_family = family
        self.source = source
        self.loop = loop
        self.token = token
        self.closing = False
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the serving loop and wait for it (from a handler thread)."""
        with self._lock:
            if self.closing:
                coro.close()
                raise SourceUnavailable("demo ERP is shutting down")
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)
            self._pending.add(future)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise SourceUnavailable("demo ERP is shutting down") from None
        finally:
            with self._lock:
                self._pending.discard(future)

    def cancel_pending(self) -> None:
        """Refuse new work and cancel what is in flight (a hung page, say)."""
        with self._lock:
            self.closing = True
            pending = list(self._pending)
        for future in pending:
            future.cancel()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("demo ERP: error while serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "syncdeck-demo-erp/1"

    def version_string(self) -> str:
        return self.server_version

    @property
    def app(self) -> _DemoServer:
        return cast(_DemoServer, self.server)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("demo ERP %s: %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        try:
            status, body = self._route()
        except params.BadRequest as exc:
            status, body = HTTPStatus.BAD_REQUEST, {"error": str(exc)}
        except SourceUnavailable as exc:
            status, body = HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)}
        except SourceError as exc:
            status, body = HTTPStatus.BAD_REQUEST, {"error": str(exc)}
        except Exception:
            log.exception("demo ERP: %s failed", self.path)
            status, body = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal server error"}
        self._send(status, body)

    def _method_not_allowed(self) -> None:
        self.close_connection = True  # any request body is left unread
        self._send(
            HTTPStatus.METHOD_NOT_ALLOWED,
            {"error": f"method {self.command} not allowed; this API is read-only (GET)"},
            {"Allow": "GET"},
        )

    do_POST = do_PUT = do_PATCH = do_DELETE = _method_not_allowed

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unsupported method) as JSON too."""
        self.close_connection = True
        self._send(code, {"error": message or HTTPStatus(code).phrase})

    # -- routing ------------------------------------------------------------

    def _route(self) -> Reply:
        split = urlsplit(self.path)
        path = unquote(split.path).rstrip("/") or "/"
        if path == "/health":
            return HTTPStatus.OK, {"status": "ok"}
        refused = self._refused()
        if refused is not None:
            return HTTPStatus.UNAUTHORIZED, {"error": refused}
        parts = path.split("/")
        if len(parts) not in (3, 4) or "/".join(parts[:2]) != API_PREFIX:
            return HTTPStatus.NOT_FOUND, {"error": f"no such path {split.path!r}"}
        entity = parts[2]
        if entity not in KEYS:
            known = ", ".join(KEYS)
            return HTTPStatus.NOT_FOUND, {"error": f"unknown entity {entity!r}; known: {known}"}
        source = self.app.source
        if len(parts) == 4:
            if parts[3] != "count":
                return HTTPStatus.NOT_FOUND, {"error": f"no such path {split.path!r}"}
            since = params.since(params.query(split.query, ("since",)))
            count = self.app.call(source.estimate(entity, since))
            return HTTPStatus.OK, {"count": count}
        given = params.query(split.query, ("since", "page_token", "limit"))
        since, limit = params.since(given), params.limit(given)
        token = given.get("page_token")
        if token is not None and not is_page_token(token):
            raise params.BadRequest("page_token is not one this server issued")
        page = self.app.call(source.page(entity, since, token, limit))
        return HTTPStatus.OK, {"records": page.records, "next_page_token": page.next}

    def _refused(self) -> str | None:
        """Why the request's credentials are refused, or None if they are fine."""
        expected = self.app.token
        if expected is None:
            return None
        header = self.headers.get("Authorization")
        if not header:
            return "missing bearer token (send 'Authorization: Bearer <token>')"
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), expected.encode()
        ):
            return "invalid bearer token"
        return None

    def _send(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            if status == HTTPStatus.UNAUTHORIZED:
                self.send_header("WWW-Authenticate", 'Bearer realm="syncdeck-demo-erp"')
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:  # the client went away (it timed out, say)
            self.close_connection = True


def _address_family(host: str, port: int) -> socket.AddressFamily:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return infos[0][0] if infos else socket.AF_INET


def _url(address: tuple[Any, ...]) -> str:
    host, port = str(address[0]), int(address[1])
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve(settings: Settings, host: str, port: int, token: str | None) -> None:
    """Serve the demo ERP of `settings` on `host`:`port` until cancelled, SIGINT or SIGTERM.

    Requires `token` as a bearer token when given. Raises OSError if it cannot listen."""
    loop = asyncio.get_running_loop()
    erp = await asyncio.to_thread(open_demo_erp, settings)  # generated on first use
    try:
        source = DemoSource(erp, settings.demo.faults)
        family = await asyncio.to_thread(_address_family, host, port)
        try:
            server = _DemoServer((host, port), family, source, loop, token or None)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name="demo-erp-http",
            daemon=True,
        )
        thread.start()
        stop = asyncio.Event()
        handled: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # not the main thread, or no signals here: cancellation still works
            handled.append(sig)
        try:
            print(f"demo ERP serving on {_url(server.server_address)}", flush=True)
            faults = {
                k: v
                for k, v in msgspec.structs.asdict(settings.demo.faults).items()
                if v != getattr(DemoFaults(), k)
            }
            if faults:
                print(f"demo ERP faults: {faults}", file=sys.stderr, flush=True)
            await stop.wait()
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            server.cancel_pending()
            server.shutdown()  # returns within one poll interval
            server.server_close()
            thread.join(timeout=5)
    finally:
        erp.close()
