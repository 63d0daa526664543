"""json-server 0.17.4 for bench/restsource.py: the REST API the benchmark reads.

The start and stop are those of tests/support/jsonserver.py, duplicated in their minimal
part (the benchmark does not import from tests/; `make tools` installs json-server into
tests/jsonserver, and both use that copy): `db.json` is written into a directory, `node
.../json-server/lib/cli/bin.js db.json --host 127.0.0.1 --quiet --port P` runs there on a
free port, without `--watch` (with it, json-server restarts when its file and its memory
differ after a quick write, dropping the connections in flight), and `GET /db` is polled
until it answers. At exit the server gets SIGTERM, then SIGKILL, and is reaped.

What json-server does with a listing (see tests/support/jsonserver.py, checked by hand):
`GET /customers?_sort=id&_order=asc&_page=P&_limit=L` is that page with `X-Total-Count`
and a `Link` header (absolute URLs keeping every other query parameter; `rel="next"` on
every page but the last). Each request filters and sorts the whole collection in memory
(lodash), so its time grows with the collection, not the page. `PATCH /customers/ID`
merges top-level keys and writes the whole `db.json` again (serialised before it answers,
written asynchronously: `settle` waits until the file stops changing).
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / "tests" / "jsonserver" / "node_modules" / "json-server" / "lib" / "cli" / "bin.js"
VERSION = "0.17.4"
COMMAND = ("node", str(BIN), "db.json", "--host", "127.0.0.1", "--quiet")
"""Run in the directory of its `db.json`, with `--port P`."""
START_TIMEOUT_S = 120.0
"""Parsing a db.json of 100,000 records takes a few seconds; a larger one, longer."""


def missing_reason() -> str | None:
    """Why json-server cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed (json-server needs it)"
    try:
        installed = json.loads((BIN.parents[2] / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return f"json-server is not installed in {BIN.parents[3]} (`make tools` installs it)"
    if installed != VERSION:
        return f"json-server {installed} is installed, not {VERSION} (`make tools`)"
    return None


@dataclass(frozen=True)
class JsonServer:
    """A running json-server; `url` is its base (`http://127.0.0.1:P/`), `pid` node's."""

    url: str
    pid: int
    directory: Path

    def patch(self, path: str, changes: dict[str, Any]) -> Any:
        """PATCH `path` (e.g. `customers/7`) with `changes`; the stored record."""
        request = urllib.request.Request(
            self.url + path, data=json.dumps(changes).encode(), method="PATCH"
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def settle(self, quiet_s: float = 0.5, timeout_s: float = 60.0) -> None:
        """Wait until `db.json` has not changed for `quiet_s` (json-server's last write
        done), so that no write of it overlaps what is timed next."""
        path = self.directory / "db.json"
        deadline = time.monotonic() + timeout_s
        last = path.stat().st_mtime_ns
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = path.stat().st_mtime_ns
            if now != last:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                return
        raise RuntimeError(f"json-server's db.json kept changing for {timeout_s:.0f} s")


@contextlib.contextmanager
def running_json_server(directory: Path, db_text: str, probe: str) -> Iterator[JsonServer]:
    """json-server on `db_text` (written to `directory`/db.json), stopped at exit; it is up
    when `GET probe` (a path with its query) answers.

    Raises RuntimeError when it does not answer within START_TIMEOUT_S (with its output);
    a port taken between choosing and binding it is tried again."""
    reason = missing_reason()
    if reason is not None:
        raise RuntimeError(reason)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "db.json").write_text(db_text, encoding="utf-8")
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
            if _answers(proc, port, probe):
                yield JsonServer(f"http://127.0.0.1:{port}/", proc.pid, directory)
                return
            output = log_path.read_text(errors="replace")
            if "EADDRINUSE" not in output:
                raise RuntimeError(f"json-server did not start on port {port}:\n{output}")
        finally:
            _stop(proc)
    raise RuntimeError("json-server found no free port in three tries")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(proc: subprocess.Popen[bytes], port: int, probe: str) -> bool:
    """Poll `GET probe` until json-server answers (True) or exits or times out (False).
    (The tests poll `GET /db`, which would serialise the whole database here.)"""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{probe}", timeout=5) as response:
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
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
