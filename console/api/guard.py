"""The API's front door: a pure ASGI middleware that judges a request by its headers
before a byte of its body is read (FastAPI reads a body before it runs a route's
dependencies, so the routes' own checks would come too late).

In order:
- the request line and headers must fit `MAX_HEADER_BYTES` (else 431);
- on every path but the open ones (`/healthz`, `/readyz`, `/openapi.json`, and
  `/metrics` when `[api] metrics_auth = "none"`) the bearer token must verify (else
  401; the role a route needs is still its own dependency's to check, 403);
- a declared `Content-Length` must fit `MAX_BODY_BYTES` (else 413).

A body is then read here, counted as it
arrives, chunked or not, and refused once it passes the limit (413); the application
is handed it from memory. A body that is not empty must be JSON (`application/json`
or `application/*+json`, else 415). A refusal whose body is left unread and may be
long closes the connection; a short one is read and dropped by the server. HEAD is
answered as GET, without the body. Every refusal is the one JSON error body; nothing
raises out of here but what the application raises.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.api.auth import Authenticator, bearer_token
from console.api.errors import ApiError
from console.api.limits import MAX_BODY_BYTES, MAX_HEADER_BYTES
from console.api.responses import error_response

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json"})
DROP_UNREAD_BYTES = 65536
"""A refused body up to this long is read and dropped by the server, which keeps the
connection; a longer one, or one of unknown length, closes it."""
CLOSE = {"Connection": "close"}


class _Gone(Exception):
    """The client went away while its body was being read."""


def header_bytes(scope: Scope) -> int:
    """The request line and headers as they were sent, near enough (each header's name,
    value, ': ' and CRLF)."""
    line = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 16
    return line + sum(len(name) + len(value) + 4 for name, value in scope["headers"])


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    return next((value for key, value in headers if key == name), None)


class Guard:
    """Refuses what must not reach the application (see the module docstring)."""

    def __init__(self, app: ASGIApp, auth: Authenticator, open_paths: frozenset[str]) -> None:
        self.app = app
        self.auth = auth
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            receive = await self._admit(scope, receive)
        except ApiError as refusal:
            answer = error_response(refusal.status, refusal.code, refusal.message, refusal.headers)
            await answer(scope, receive, send)  # the server drops the body of a HEAD's answer
            return
        except _Gone:
            return
        if scope["method"] == "HEAD":
            scope, send = {**scope, "method": "GET"}, _headless(send)
        await self.app(scope, receive, send)

    async def _admit(self, scope: Scope, receive: Receive) -> Receive:
        """The receive the application gets. Raises ApiError (431, 401, 413), _Gone."""
        headers = scope["headers"]
        if header_bytes(scope) > MAX_HEADER_BYTES:
            raise ApiError(
                431,
                "headers_too_large",
                f"the request line and headers exceed {MAX_HEADER_BYTES} bytes",
                CLOSE,
            )
        declared = _header(headers, b"content-length")
        length = int(declared) if declared is not None and declared.isdigit() else None
        chunked = _header(headers, b"transfer-encoding") is not None
        has_body = chunked or bool(length)
        unread_closes = chunked or (length or 0) > DROP_UNREAD_BYTES
        if scope["path"] not in self.open_paths:
            authorization = _header(headers, b"authorization")
            token = None if authorization is None else bearer_token(authorization.decode("latin-1"))
            try:
                self.auth.authenticate(token)
            except ApiError as refusal:
                if unread_closes:
                    refusal.headers = {**(refusal.headers or {}), **CLOSE}
                raise
        if length is not None and length > MAX_BODY_BYTES:
            raise _too_large(close=unread_closes)
        if not has_body:
            return receive
        body = await _read_body(receive)
        if body and not is_json(_header(headers, b"content-type")):
            raise ApiError(
                415,
                "unsupported_media_type",
                "a body must be JSON (Content-Type: application/json)",
            )
        return _replay(body, receive)


def is_json(content_type: bytes | None) -> bool:
    """`application/json` or `application/*+json`, whatever the parameters (as FastAPI
    reads a body as JSON)."""
    if content_type is None:
        return False
    kind = content_type.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )


def _too_large(*, close: bool) -> ApiError:
    message = f"the body exceeds {MAX_BODY_BYTES} bytes"
    return ApiError(413, "body_too_large", message, CLOSE if close else None)


async def _read_body(receive: Receive) -> bytes:
    """The whole body, counted as it arrives. Raises ApiError 413 past the limit (and the
    connection closes: the rest is of unknown length), _Gone."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES:
            raise _too_large(close=True)
        if not message.get("more_body", False):
            return bytes(body)


def _headless(send: Send) -> Send:
    """A HEAD's send: the GET's status and headers, then an empty body that ends the answer,
    and nothing after it. A stream stops there: the server answers its receive with a
    disconnect once the answer is complete."""
    ended = False

    async def head(message: Message) -> None:
        nonlocal ended
        if ended:
            return
        if message["type"] == "http.response.body":
            ended = True
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return head


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body read already, then whatever comes next (a disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
