"""`GET /api/runs/{id}` reads one run by its key, against a real `syncdeck serve` over TCP:
among 20,000 runs the oldest costs what the newest does, and is the same document as in
`GET /api/runs`.

The history is grown by copying one real run's row inside the store file (a single
statement; reading the column list keeps it independent of the schema's version).
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Iterator

import pytest
from support.api import OPERATE, READ, ApiServer, api_env, token, wait_ended

RUNS = 20_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    root = tmp_path_factory.mktemp("runs")
    (root / "data").mkdir()
    started = ApiServer(api_env(root / "data"), root)
    yield started
    assert started.stop() == 0, started.log()


def grow_history(server: ApiServer, copies: int) -> tuple[int, int]:
    """Copy the newest run `copies` times; the (oldest, newest) run ids."""
    db = sqlite3.connect(server.data_dir / "syncdeck.db", timeout=30)
    try:
        columns = ", ".join(r[1] for r in db.execute("PRAGMA table_info(runs)") if r[1] != "id")
        with db:
            db.execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                f"INSERT INTO runs ({columns}) SELECT {columns} FROM n, "
                "(SELECT * FROM runs ORDER BY id DESC LIMIT 1)",
                (copies,),
            )
        oldest, newest = db.execute("SELECT MIN(id), MAX(id) FROM runs").fetchone()
    finally:
        db.close()
    return int(oldest), int(newest)


def median_ms(server: ApiServer, path: str, tok: str, times: int = 15) -> float:
    server.request("GET", path, tok)  # a warm connection and a verified token
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        answer = server.request("GET", path, tok)
        spent.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text
    return statistics.median(spent) * 1000


def test_an_old_run_costs_what_a_new_one_does(server: ApiServer) -> None:
    queued = server.request("POST", "/api/sync/orders/full", token(OPERATE)).json()
    wait_ended(server, queued["data"]["request"]["id"])
    oldest, newest = grow_history(server, RUNS - 1)
    assert newest - oldest + 1 >= RUNS
    read = token(READ)
    old = server.request("GET", f"/api/runs/{oldest}", read).json()["data"]
    assert old["id"] == oldest and old["service"] == "orders"
    listed = server.request("GET", "/api/runs?limit=1", read).json()["data"][0]
    assert server.request("GET", f"/api/runs/{newest}", read).json()["data"] == listed
    old_ms = median_ms(server, f"/api/runs/{oldest}", read)
    new_ms = median_ms(server, f"/api/runs/{newest}", read)
    assert old_ms < 3 * new_ms + 10, f"run #{oldest}: {old_ms:.1f} ms, #{newest}: {new_ms:.1f} ms"
    missing = server.request("GET", f"/api/runs/{newest + 1}", read)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
