"""The event stream of the HTTP API: what a request made through the API produces, and a
reconnect with Last-Event-ID that misses nothing and repeats nothing, checked against the
store's own event log. Against a real `syncdeck serve`, read over TCP with httpx."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.api import OPERATE, READ, ApiServer, api_env, bearer, token, wait_ended
from support.procs import wait_until


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    root = tmp_path_factory.mktemp("events")
    (root / "data").mkdir()
    started = ApiServer(api_env(root / "data"), root)
    yield started
    assert started.stop() == 0, started.log()


def store_events(server: ApiServer) -> list[tuple[int, str]]:
    """(id, kind) of every event in the store's log, read from the file itself."""
    db = sqlite3.connect(server.data_dir / "syncdeck.db")
    try:
        return [(int(i), str(k)) for i, k in db.execute("SELECT id, kind FROM events ORDER BY id")]
    finally:
        db.close()


class Stream:
    """One SSE connection: `next()` gives the next event as {id, event, data}."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()

    def next(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for line in self._lines:
            if line == "":
                if "event" in fields or "id" in fields:
                    if "data" in fields:
                        fields["data"] = json.loads(fields["data"])
                    if "id" in fields:
                        fields["id"] = int(fields["id"])
                    return fields
                fields = {}
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        raise EOFError("the stream ended")

    def until(self, predicate: Any) -> list[dict[str, Any]]:
        seen = []
        while True:
            event = self.next()
            seen.append(event)
            if predicate(event):
                return seen


@contextmanager
def stream(
    server: ApiServer, query: str = "", last_id: int | None = None, tok: str | None = None
) -> Iterator[Stream]:
    headers = bearer(tok or token(READ))
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    with httpx.stream(
        "GET", f"{server.url}/api/events{query}", headers=headers, timeout=15
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response)


def queue(server: ApiServer, service: str) -> int:
    answer = server.request("POST", f"/api/sync/{service}/full", token(OPERATE))
    assert answer.status_code == 202, answer.text
    request_id: int = answer.json()["data"]["request"]["id"]
    return request_id


def test_a_request_made_through_the_api_is_seen_starting_and_finishing(server: ApiServer) -> None:
    with stream(server) as events:
        request_id = queue(server, "orders")
        seen = events.until(
            lambda e: e.get("event") == "run.finished" and e["data"]["request_id"] == request_id
        )
    kinds = [e["event"] for e in seen if e["data"].get("request_id") == request_id]
    assert kinds.index("request.queued") < kinds.index("run.started") < kinds.index("run.finished")
    finished = seen[-1]["data"]
    assert finished["service"] == "orders" and finished["data"]["outcome"] == "succeeded"
    ids = [e["id"] for e in seen]
    assert ids == sorted(set(ids))
    logged = dict(store_events(server))
    assert all(logged[e["id"]] == e["event"] for e in seen)


def test_reconnecting_with_last_event_id_misses_nothing_and_repeats_nothing(
    server: ApiServer,
) -> None:
    first_request = queue(server, "customers")
    with stream(server, "?after=0") as events:
        before = events.until(
            lambda e: e.get("event") == "run.started" and e["data"]["request_id"] == first_request
        )
    # disconnected: events keep coming (the run ends, two more requests run)
    wait_ended(server, first_request)
    later = [queue(server, "products"), queue(server, "prices")]
    for request_id in later:
        wait_ended(server, request_id)
    wait_until(
        lambda: (
            server.request("GET", "/api/sync/status", token(READ)).json()["data"]["active"] is None
        ),
        20,
        "the runner to go idle",
        server.log,
    )
    log = store_events(server)
    with stream(server, last_id=before[-1]["id"]) as events:
        after = events.until(lambda e: e.get("id") == log[-1][0])
    received = [(e["id"], e["event"]) for e in before + after]
    assert received == log  # every logged event, in order, once
    assert before[-1]["id"] < after[0]["id"] == before[-1]["id"] + 1
    assert {"run.finished", "request.finished"} <= {e["event"] for e in after}


def test_follow_false_replays_and_closes(server: ApiServer) -> None:
    log = store_events(server)
    with stream(server, "?after=0&follow=false") as events:
        replayed = []
        with pytest.raises(EOFError):
            while True:
                replayed.append(events.next())
    assert [(e["id"], e["event"]) for e in replayed][: len(log)] == log


def test_the_stream_ends_when_its_token_stops_being_accepted(server: ApiServer) -> None:
    """Expired 27 s ago, inside the default leeway of 30 s: accepted for about 3 s more."""
    started = time.monotonic()
    with stream(server, tok=token(READ, ttl=-27)) as events:
        seen = []
        with pytest.raises(EOFError):
            while True:
                seen.append(events.next())
    took = time.monotonic() - started
    assert seen and seen[-1]["event"] == "stream.expired", seen
    assert seen[-1]["data"]["valid_until"] <= time.time() + 1
    assert 1 < took < 12, took
    refused = server.request("GET", "/api/events", token(READ, ttl=-31))
    assert refused.status_code == 401


def test_pruned_events_are_announced_and_the_stream_stops_on_shutdown(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    env = api_env(
        tmp_path / "data",
        SYNCDECK_ORCHESTRATOR__EVENT_RETENTION="100",
        SYNCDECK_ORCHESTRATOR__HEARTBEAT_S="0.3",
    )
    server = ApiServer(env, tmp_path)
    try:
        for n in range(130):
            put = server.request(
                "PUT", "/api/services/orders/priority", token(OPERATE), json={"priority": n % 50}
            )
            assert put.status_code == 200
        oldest = wait_until(
            lambda: (log := store_events(server)) and log[0][0] > 1 and log[0][0],
            20,
            "the runner to prune the event log",
            server.log,
        )
        with stream(server, last_id=1) as events:
            notice = events.next()
            assert notice["event"] == "stream.pruned"
            assert notice["data"]["after"] == 1 and notice["data"]["next_id"] >= oldest
            assert events.next()["id"] == notice["data"]["next_id"]
        with stream(server) as events:
            ended = threading.Event()

            def drain() -> None:
                try:
                    while True:
                        events.next()
                except (EOFError, httpx.HTTPError):
                    ended.set()

            reader = threading.Thread(target=drain, daemon=True)
            reader.start()
            code = server.stop()
            assert ended.wait(10), "the stream did not end on shutdown"
        assert code == 0, server.log()
    finally:
        server.stop()
