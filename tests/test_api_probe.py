"""`POST /api/services/{name}/probe` (issue 21 item 10) against a real `syncdeck serve` whose
ERP keeps failing: the orders circuit opens with a cooldown of an hour; probed through the
API, the queued request runs at once, fails, and the circuit opens again. The event log
says the API asked, and which token's subject. Unknown service 404, closed circuit 409."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.api import OPERATE, READ, ApiServer, api_env, token, wait_ended


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    root = tmp_path_factory.mktemp("probe")
    (root / "data").mkdir()
    env = api_env(
        root / "data",
        SYNCDECK_SIMULATION__FAILURE_RATE="1",
        SYNCDECK_ORCHESTRATOR__RETRY__TRIES="1",
        SYNCDECK_ORCHESTRATOR__CIRCUIT__FAILURE_THRESHOLD="1",
        SYNCDECK_ORCHESTRATOR__CIRCUIT__COOLDOWN_S="3600",
    )
    started = ApiServer(env, root)
    yield started
    log = started.err.read_text()
    assert started.stop() == 0, started.log()
    assert "unexpected error" not in log and "Traceback" not in log, log


def error(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, (answer.status_code, answer.text)
    body = answer.json()
    assert body["success"] is False and set(body["error"]) == {"code", "message"}, body
    found: dict[str, Any] = body["error"]
    return found


def orders(server: ApiServer) -> dict[str, Any]:
    services = server.request("GET", "/api/services", token(READ)).json()["data"]
    found: dict[str, Any] = next(s for s in services if s["name"] == "orders")
    return found


def logged(server: ApiServer) -> list[dict[str, Any]]:
    """Every event of the store's log, as the event stream sends them."""
    answer = server.request("GET", "/api/events?after=0&follow=false", token(READ))
    assert answer.status_code == 200, answer.text
    events = []
    for block in answer.text.split("\n\n"):
        data = [line.removeprefix("data: ") for line in block.splitlines() if line[:5] == "data:"]
        if data:
            events.append(json.loads("\n".join(data)))
    return events


def test_probe_runs_the_request_at_once_and_says_who_asked(server: ApiServer) -> None:
    op = token(OPERATE)
    missing = error(server.request("POST", "/api/services/nope/probe", op), 404)
    assert missing["code"] == "not_found" and "unknown service 'nope'" in missing["message"]
    closed = error(server.request("POST", "/api/services/orders/probe", op), 409)
    assert closed == {
        "code": "conflict",
        "message": "the orders circuit is closed: nothing to probe",
    }

    first = server.request("POST", "/api/sync/orders/full", op).json()["data"]["request"]
    assert wait_ended(server, first["id"])["outcome"] == "failed"
    assert orders(server)["circuit"] == "open"
    queued = server.request("POST", "/api/sync/orders/auto", op).json()["data"]["request"]
    time.sleep(1.0)  # the runner is alive: without a probe, the hour's cooldown holds it
    assert (
        server.request("GET", f"/api/requests/{queued['id']}", op).json()["data"]["request"][
            "state"
        ]
        == "queued"
    )

    answer = server.request("POST", "/api/services/orders/probe", op)

    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["data"]["request"]["id"] == queued["id"]
    assert body["message"] == f"the orders circuit is half-open: request #{queued['id']} probes it"
    # The ERP still fails: the probe runs at once, fails, and the circuit opens again.
    assert wait_ended(server, queued["id"])["outcome"] == "failed"
    assert orders(server)["circuit"] == "open"
    runs = server.request("GET", "/api/runs?service=orders", op).json()["data"]
    assert [(r["request_id"], r["outcome"]) for r in runs] == [
        (queued["id"], "failed"),
        (first["id"], "failed"),
    ]
    events = logged(server)
    [asked] = [e for e in events if e["kind"] == "circuit.probe_requested"]
    assert (asked["service"], asked["request_id"]) == ("orders", queued["id"])
    assert asked["data"] == {
        "by": "api",
        "subject": "tests",
        "source": "api",
        "queued": False,
        "failures": 1,
    }
    circuits = [e["data"]["circuit"] for e in events if e["kind"] == "circuit.changed"]
    assert circuits == ["open", "half_open", "open"]

    # Open again, with a fresh hour's cooldown: a probe may be asked for again.
    again = server.request("POST", "/api/services/orders/probe", op)
    assert again.status_code == 202, again.text
    assert again.json()["data"]["request"]["source"] == "api"  # queued now, as the API's
