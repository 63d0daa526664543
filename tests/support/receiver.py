"""A real webhook receiver for the notification tests: HTTP on 127.0.0.1, in threads.

It records every POST it is sent (path, decoded JSON body, time) and answers as
told: `ok` (200), `fail` (500), or `hang` (it reads the request and never
answers until the receiver closes). Usable from synchronous tests (daemons in
subprocesses) and from asyncio tests alike, since it has threads of its own.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["ok", "fail", "hang"]


class Hit:
    def __init__(self, path: str, body: Any) -> None:
        self.path = path
        self.body = body
        self.at = time.monotonic()


class Receiver:
    """`with Receiver("ok") as hook:` ... `hook.url("TOKEN")`, `hook.wait_for(1)`."""

    def __init__(self, mode: Mode = "ok") -> None:
        self.mode: Mode = mode
        self.hits: list[Hit] = []
        self._lock = threading.Condition()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                with receiver._lock:
                    receiver.hits.append(Hit(self.path, body))
                    receiver._lock.notify_all()
                if receiver.mode == "hang":
                    receiver._release.wait(300)
                    self.close_connection = True
                    return
                self.send_response(200 if receiver.mode == "ok" else 500)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if receiver.mode == "ok" else b"no")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, token: str = "T0KEN") -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hooks/{token}"

    @property
    def bodies(self) -> list[Any]:
        with self._lock:
            return [hit.body for hit in self.hits]

    def wait_for(self, count: int, timeout: float = 20, what: str = "") -> list[Any]:
        """The bodies once at least `count` arrived; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.hits) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    bodies = [hit.body for hit in self.hits]
                    raise AssertionError(f"{len(bodies)} of {count} notifications {what}: {bodies}")
                self._lock.wait(left)
            return [hit.body for hit in self.hits]

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
