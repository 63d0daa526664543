"""json-server 0.17.4 (from npm, `make tools` installs it into tests/jsonserver): a real
REST API over a generated `db.json`, for the REST source's tests.

`running_json_server(directory, collections)` writes `db.json` into `directory`, starts
`node .../json-server/lib/cli/bin.js db.json --port P --host 127.0.0.1 --quiet`
on a free port, polls until it answers (no fixed sleep), and yields a `JsonServer`;
at exit the server is stopped (SIGTERM, then SIGKILL) and reaped. `missing_reason()`
says why it cannot run here (no node, json-server not installed), for `pytest.skip`.

`JsonServer` changes records through json-server's own REST API (POST, PATCH, DELETE;
safe from any thread, while syncs run) and reads every record of a collection with a
plain GET (`records`), for a comparison that does not use syncdeck's code.

What json-server 0.17.4 does, checked by hand with curl:
- `GET /c?_page=2&_limit=2`: that page, with `X-Total-Count` (all matching records) and
  `Link: <...>; rel="first", rel="prev", rel="next", rel="last"` (absolute URLs keeping
  every other query parameter); the last page has no `next`; a page past the end is `[]`
  with an empty `Link`. Without `_page` (`_limit` alone, or `_start`/`_end`) there is no
  `Link`, only `X-Total-Count`.
- `_sort=updated_at,id&_order=asc,asc` sorts by several fields; `_order=desc` reverses.
- `field_gte=v` / `field_lte=v` compare as JavaScript does (strings by code unit, so
  fixed-width ISO timestamps in UTC compare in time order); `field_gt` does NOT exist in
  0.17 (it is ignored: every record is listed), so an exclusive filter cannot be served.
- `_start=2&_end=4` is records 2 and 3 (0-based, end excluded); `_start=5&_limit=10`.
- `GET /c/ID` is 200 or 404; `POST /c` is 201 (an `id` is made when none is given; an
  `id` already there is a 500); `PATCH /c/ID` merges top-level keys only (a nested
  object is replaced whole); `DELETE /c/ID` is 200, then 404 (it also deletes records of
  other collections that name it as `<singular>Id`).
- It writes its changes to `db.json`. Not run with `--watch`: that compares the file with
  its memory after each write and, when a quick write left them apart, restarts the
  server, dropping the connections in flight (seen here as `RemoteDisconnected`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conftest import REPO

PACKAGE = REPO / "tests" / "jsonserver"
BIN = PACKAGE / "node_modules" / "json-server" / "lib" / "cli" / "bin.js"
VERSION = "0.17.4"
COMMAND = ("node", str(BIN), "db.json", "--host", "127.0.0.1", "--quiet")
"""Run in the directory of its `db.json`, with `--port P`."""
START_TIMEOUT_S = 20.0
Record = dict[str, Any]


def missing_reason() -> str | None:
    """Why json-server cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed: the json-server tests cannot run"
    try:
        installed = json.loads((BIN.parents[2] / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return f"json-server is not installed in {PACKAGE} (`make tools` installs it)"
    if installed != VERSION:
        return f"json-server {installed} is installed, not {VERSION} (`make tools`)"
    return None


def utc_stamp(moment: datetime | None = None) -> str:
    """A UTC timestamp of fixed width (`2026-01-02T03:04:05.678901Z`): its text order is
    its time order, which is how json-server's `_gte` and `_sort` compare."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JsonServerError(Exception):
    """json-server answered a change with an error, or did not start."""


class JsonServer:
    """A running json-server; `url` is its base (`http://127.0.0.1:P/`)."""

    def __init__(self, port: int, directory: Path, stamp_field: str | None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/"
        self.directory = directory
        self.stamp_field = stamp_field
        """Set to now (`utc_stamp`) by `create` and `update` unless given."""

    def create(self, collection: str, record: Record) -> Record:
        """POST a new record (with its `id`, or json-server makes one); the stored record."""
        stored: Record = self._send("POST", collection, self._stamped(record))
        return stored

    def update(self, collection: str, id: Any, changes: Record) -> Record:
        """PATCH: top-level keys replaced (a nested object whole); the stored record."""
        stored: Record = self._send("PATCH", f"{collection}/{id}", self._stamped(changes))
        return stored

    def delete(self, collection: str, id: Any) -> None:
        self._send("DELETE", f"{collection}/{id}", None)

    def records(self, collection: str) -> list[Record]:
        """Every record of `collection`, in the order json-server keeps them."""
        found = self.get(collection)
        assert isinstance(found, list), found
        return found

    def record(self, collection: str, id: Any) -> Record | None:
        """One record, or None when json-server says 404."""
        try:
            found = self.get(f"{collection}/{id}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        assert isinstance(found, dict), found
        return found

    def get(self, path: str) -> Any:
        """GET `path` (query string included), decoded."""
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def _stamped(self, record: Record) -> Record:
        if self.stamp_field is None or self.stamp_field in record:
            return record
        return {**record, self.stamp_field: utc_stamp()}

    def _send(self, method: str, path: str, body: Record | None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise JsonServerError(f"{method} {path}: {exc.code} {exc.reason}") from exc


@contextlib.contextmanager
def running_json_server(
    directory: Path, collections: dict[str, list[Record]], stamp_field: str | None = "updated_at"
) -> Iterator[JsonServer]:
    """json-server on `collections` (written to `directory`/db.json), stopped at exit.

    Raises JsonServerError when it does not answer within START_TIMEOUT_S (with its
    output); a port taken between choosing and binding it is tried again."""
    reason = missing_reason()
    if reason is not None:
        raise JsonServerError(reason)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "db.json").write_text(json.dumps(collections, indent=1), encoding="utf-8")
    for _ in range(3):
        port = _free_port()
        log_path = directory / f"json-server-{port}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [*COMMAND, "--port", str(port)],
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            if _answers(proc, port):
                yield JsonServer(port, directory, stamp_field)
                return
            output = log_path.read_text(errors="replace")
            if "EADDRINUSE" not in output:
                raise JsonServerError(f"json-server did not start on port {port}:\n{output}")
        finally:
            _stop(proc)
    raise JsonServerError("json-server found no free port in three tries")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(proc: subprocess.Popen[bytes], port: int) -> bool:
    """Poll `GET /db` until json-server answers (True) or exits or times out (False)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/db", timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)  # a poll's pause, not a wait for readiness
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
