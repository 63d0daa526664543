"""uvicorn's HTTP/1.1 protocol (h11), answering the requests it refuses itself with the
API's one JSON error body instead of plain text.

h11 refuses a request it cannot parse (400) and one whose request line and headers
grow past `MAX_HEADER_BYTES` before they are complete (431, the status h11 suggests);
`console.api.guard` refuses complete ones that are too long. Either way the client
reads `{"success": false, "error": {...}}` and the connection closes. Nothing here
raises: a refusal that cannot be written any more only closes the connection.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import msgspec
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from console.api.limits import MAX_HEADER_BYTES
from console.api.responses import error_body


class _Connection(h11.Connection):
    """h11's connection, remembering the status h11 suggests for the request it refused."""

    refused_with = 400

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.refused_with = exc.error_status_hint
            raise


class JsonH11Protocol(H11Protocol):
    """`uvicorn.Config(http=JsonH11Protocol, h11_max_incomplete_event_size=MAX_HEADER_BYTES)`."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._wire = _Connection(
            h11.SERVER, config.h11_max_incomplete_event_size or MAX_HEADER_BYTES
        )
        self.conn = self._wire

    def send_400_response(self, msg: str) -> None:
        if self._wire.refused_with == 431:
            status, code = 431, "headers_too_large"
            message = f"the request line and headers exceed {MAX_HEADER_BYTES} bytes"
        else:
            status, code, message = 400, "bad_request", "not a valid HTTP/1.1 request"
        body = msgspec.json.encode(error_body(code, message))
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        try:
            for event in (
                h11.Response(status_code=status, headers=headers),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event) or b"")
        except h11.LocalProtocolError:  # an answer was under way already: just close
            pass
        self.transport.close()
