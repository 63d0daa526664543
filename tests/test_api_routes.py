"""Every route of the HTTP API, its errors, and the auth matrix over all of them, against a
real `syncdeck serve` (simulated 0.2 s syncs, HS256 with an audience and an issuer)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.api import (
    OPERATE,
    READ,
    ApiServer,
    api_env,
    bad_tokens,
    bearer,
    cli,
    token,
    wait_ended,
)

from core.config.limits import MAX_INTERVAL_S, MAX_OFFSET_S, MIN_INTERVAL_S, interval_problem


@dataclass
class World:
    server: ApiServer
    env: dict[str, str]
    finished: dict[str, Any]
    """An ended request (orders, run once)."""
    run_id: int
    queued: int
    """A queued customers request (dispatch is paused)."""
    doomed: int
    """A queued products request, cancelled by the matrix."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("routes")
    (root / "data").mkdir()
    env = api_env(root / "data")
    server = ApiServer(env, root)
    op = token(OPERATE)
    first = server.request("POST", "/api/sync/orders/full", op).json()["data"]["request"]
    finished = wait_ended(server, first["id"])
    run_id = server.request("GET", "/api/runs", op).json()["data"][0]["id"]
    assert server.request("POST", "/api/controls/pause", op).status_code == 200
    queued = server.request("POST", "/api/sync/customers/auto", op).json()["data"]["request"]
    doomed = server.request("POST", "/api/sync/products/auto", op).json()["data"]["request"]
    yield World(server, env, finished, run_id, queued["id"], doomed["id"])
    log = server.err.read_text()
    assert server.stop() == 0, server.log()
    assert "unexpected error" not in log and "Traceback" not in log, log


def call(world: World, method: str, path: str, tok: str | None = None, **kw: Any) -> Any:
    answer = world.server.request(method, path, tok, **kw)
    assert answer.status_code < 500, (method, path, answer.status_code, answer.text)
    return answer


def error_of(answer: Any, status: int) -> dict[str, Any]:
    """The one error body, with `status`."""
    assert answer.status_code == status, (answer.status_code, answer.text)
    body = answer.json()
    assert set(body) == {"success", "error"} and body["success"] is False, body
    assert set(body["error"]) == {"code", "message"} and body["error"]["message"], body
    error: dict[str, Any] = body["error"]
    return error


# -- the auth matrix -----------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    role: str
    """none, read or operate."""
    status: int = 200
    body: dict[str, Any] | None = None
    query: str = ""


def routes(w: World) -> list[tuple[Route, str]]:
    """Every route with a path that succeeds for the right role, in an order that keeps
    each right-role call valid (the cancel last but one, on its own request)."""
    table = [
        (Route("POST", "/api/sync/{service}/{mode}", OPERATE, 202), "/api/sync/orders/auto"),
        (Route("GET", "/api/sync/status", READ), "/api/sync/status"),
        (Route("GET", "/api/requests/{request_id}", READ), f"/api/requests/{w.queued}"),
        (
            Route("PATCH", "/api/requests/{request_id}", OPERATE, body={"priority": 7}),
            f"/api/requests/{w.queued}",
        ),
        (Route("GET", "/api/services", READ), "/api/services"),
        (
            Route("PUT", "/api/services/{name}/priority", OPERATE, body={"priority": 2}),
            "/api/services/prices/priority",
        ),
        (
            Route(
                "PUT",
                "/api/services/{name}/schedule",
                OPERATE,
                body={"interval_s": 600.0, "offset_s": 30.0, "enabled": False},
            ),
            "/api/services/prices/schedule",
        ),
        (
            Route("DELETE", "/api/services/{name}/schedule", OPERATE),
            "/api/services/prices/schedule",
        ),
        # orders' circuit is closed: the right role reaches the core, which refuses (409);
        # tests/test_api_probe.py probes an open one.
        (
            Route("POST", "/api/services/{name}/probe", OPERATE, 409),
            "/api/services/orders/probe",
        ),
        (Route("GET", "/api/schedule", READ), "/api/schedule"),
        (Route("GET", "/api/controls", READ), "/api/controls"),
        (
            Route("POST", "/api/controls/{action}", OPERATE, body={"target": "schedule"}),
            "/api/controls/pause",
        ),
        (Route("GET", "/api/runs", READ), "/api/runs"),
        (Route("GET", "/api/runs/{run_id}", READ), f"/api/runs/{w.run_id}"),
        (Route("GET", "/api/events", READ, query="?after=0&follow=false"), "/api/events"),
        (Route("GET", "/metrics", READ), "/metrics"),
        (Route("GET", "/healthz", "none"), "/healthz"),
        (Route("GET", "/readyz", "none"), "/readyz"),
        (Route("DELETE", "/api/requests/{request_id}", OPERATE), f"/api/requests/{w.doomed}"),
    ]
    return table


def test_the_matrix_covers_every_route_in_the_openapi_document(world: World) -> None:
    document = call(world, "GET", "/openapi.json").json()
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert documented == {(route.method, route.template) for route, _ in routes(world)}
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_auth_matrix_over_every_route(world: World) -> None:
    tokens = bad_tokens()
    for route, path in routes(world):
        url = path + route.query
        for name, bad in tokens.items():
            answer = call(world, route.method, url, bad, json=route.body)
            if route.role == "none":
                assert answer.status_code == 200, (route, name, answer.text)
                continue
            error = error_of(answer, 401)
            assert error["code"] == "unauthorized", (route, name)
            assert answer.headers["WWW-Authenticate"].startswith("Bearer "), (route, name)
        if route.role == OPERATE:
            answer = call(world, route.method, url, token(READ), json=route.body)
            assert error_of(answer, 403)["code"] == "forbidden", route
            assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]
        right = token(READ if route.role == READ else OPERATE)
        answer = call(world, route.method, url, right, json=route.body)
        assert answer.status_code == route.status, (route, answer.text)
    call(world, "POST", "/api/controls/resume", token(OPERATE), json={"target": "schedule"})


# -- requests ------------------------------------------------------------------------------


def test_request_read_change_cancel_and_their_errors(world: World) -> None:
    op = token(OPERATE)
    extra = call(world, "POST", "/api/sync/prices/incremental", op).json()["data"]["request"]
    got = call(world, "GET", f"/api/requests/{extra['id']}", token(READ)).json()["data"]
    assert got["request"]["state"] == "queued"
    changed = call(world, "PATCH", f"/api/requests/{extra['id']}", op, json={"priority": 42})
    assert changed.json()["data"]["request"]["priority"] == 42
    cancelled = call(world, "DELETE", f"/api/requests/{extra['id']}", op).json()
    assert cancelled["data"]["request"]["state"] == "cancelled"
    assert cancelled["message"] == f"request #{extra['id']}: cancelled"
    assert error_of(call(world, "DELETE", f"/api/requests/{extra['id']}", op), 409)["code"] == (
        "conflict"
    )
    finished = world.finished["id"]
    error_of(call(world, "DELETE", f"/api/requests/{finished}", op), 409)
    error_of(call(world, "GET", "/api/requests/999999", op), 404)
    error_of(call(world, "DELETE", "/api/requests/999999", op), 404)
    error_of(call(world, "PATCH", "/api/requests/999999", op, json={"priority": 1}), 404)
    for bad in ["0", "-1", str(2**70), "abc"]:
        assert error_of(call(world, "GET", f"/api/requests/{bad}", op), 422)["code"] == (
            "invalid_request"
        )


@pytest.mark.parametrize(
    "body",
    [
        {"priority": 101},
        {"priority": -1},
        {"priority": 1.5},
        {"priority": "3"},
        {"priority": math.nan},
        {"priority": math.inf},
        {"priority": 3, "extra": 1},
        {},
    ],
    ids=repr,
)
def test_bad_priority_bodies_are_422(world: World, body: dict[str, Any]) -> None:
    op = token(OPERATE)
    content = json.dumps(body)  # NaN and Infinity as JavaScript writes them
    as_json = {"Content-Type": "application/json"}
    for method, path in [
        ("PATCH", f"/api/requests/{world.queued}"),
        ("PUT", "/api/services/orders/priority"),
    ]:
        error_of(call(world, method, path, op, content=content, headers=as_json), 422)
    answer = call(world, "POST", "/api/sync/orders/auto", op, content=content, headers=as_json)
    if body == {}:
        assert answer.status_code == 202
    else:
        error_of(answer, 422)


def test_not_json_and_unknown_routes_have_the_error_body(world: World) -> None:
    op = token(OPERATE)
    as_json = {"Content-Type": "application/json"}
    path = "/api/services/orders/priority"
    error_of(call(world, "PUT", path, op, content=b"{nope", headers=as_json), 422)
    assert error_of(call(world, "PUT", path, op, content=b"{nope"), 415)["code"] == (
        "unsupported_media_type"
    )
    error_of(call(world, "POST", "/api/sync/orders/sideways", op), 422)
    error_of(call(world, "POST", "/api/sync/nope/full", op), 404)
    assert error_of(call(world, "GET", "/api/nothing-here", op), 404)["code"] == "not_found"


def test_a_405_names_the_methods_the_path_takes(world: World) -> None:
    op = token(OPERATE)
    for method, path, allowed in [
        ("DELETE", "/api/sync/status", "GET, HEAD"),
        ("PUT", "/api/runs", "GET, HEAD"),
        ("GET", "/api/sync/orders/full", "POST"),
        ("HEAD", "/api/sync/orders/full", "POST"),
        ("DELETE", "/api/services/orders/priority", "PUT"),
        ("PATCH", "/api/services/orders/schedule", "DELETE, PUT"),
        ("POST", f"/api/requests/{world.queued}", "DELETE, GET, HEAD, PATCH"),
    ]:
        answer = call(world, method, path, op)
        assert answer.status_code == 405, (method, path, answer.status_code)
        assert answer.headers["allow"] == allowed, (method, path, answer.headers)
        if method != "HEAD":
            assert error_of(answer, 405)["code"] == "method_not_allowed"


def test_head_answers_like_get_without_a_body(world: World) -> None:
    for route, path in routes(world):
        if route.method != "GET":
            continue
        tok = None if route.role == "none" else token(READ)
        get = call(world, "GET", path + route.query, tok)
        head = call(world, "HEAD", path + route.query, tok)
        assert head.status_code == get.status_code == route.status, (route, head.status_code)
        assert head.content == b"", route
        assert head.headers["content-type"] == get.headers["content-type"], route
    healthz = call(world, "GET", "/healthz")
    assert call(world, "HEAD", "/healthz").headers["content-length"] == str(len(healthz.content))
    refused = call(world, "HEAD", "/api/sync/status")
    assert refused.status_code == 401 and refused.content == b""
    assert refused.headers["www-authenticate"].startswith("Bearer ")
    # A followed event stream ends after its headers: the connection serves the next request.
    with httpx.Client(base_url=world.server.url, limits=httpx.Limits(max_connections=1)) as one:
        head = one.head("/api/events", headers=bearer(token(READ)), timeout=5)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"].startswith("text/event-stream")
        assert one.get("/healthz", timeout=5).json() == {"status": "ok"}


# -- services and controls -----------------------------------------------------------------


def test_service_priority_and_schedule(world: World) -> None:
    op = token(OPERATE)
    services = call(world, "GET", "/api/services", token(READ)).json()["data"]
    assert sorted(s["name"] for s in services) == ["customers", "orders", "prices", "products"]
    answer = call(world, "PUT", "/api/services/orders/priority", op, json={"priority": 9})
    assert answer.json()["data"]["priority"] == 9
    body = {"interval_s": 120.0, "offset_s": 5.0, "enabled": False}
    doc = call(world, "PUT", "/api/services/orders/schedule", op, json=body).json()["data"]
    assert (doc["interval_s"], doc["offset_s"], doc["schedule_enabled"]) == (120.0, 5.0, False)
    plans = call(world, "GET", "/api/schedule", token(READ)).json()["data"]["services"]
    assert plans == json.loads(cli(world.env, "schedule", "--json").stdout)["services"]
    orders = next(p for p in plans if p["name"] == "orders")
    assert (orders["interval_s"], orders["offset_s"], orders["enabled"]) == (120.0, 5.0, False)
    reset = call(world, "DELETE", "/api/services/orders/schedule", op).json()["data"]
    assert reset["interval_s"] == 1800.0
    status = json.loads(cli(world.env, "status", "--json").stdout)
    assert next(s for s in status["services"] if s["name"] == "orders")["priority"] == 9
    call(world, "PUT", "/api/services/orders/priority", op, json={"priority": 4})
    error_of(call(world, "PUT", "/api/services/nope/priority", op, json={"priority": 1}), 404)
    error_of(call(world, "DELETE", "/api/services/nope/schedule", op), 404)
    for bad in [
        {"interval_s": 0},
        {"interval_s": 0.05},
        {"interval_s": MIN_INTERVAL_S - 1e-9},
        {"interval_s": MAX_INTERVAL_S + 1},
        {"interval_s": -5.0},
        {"interval_s": 1e12},
        {"offset_s": -1},
        {"offset_s": MAX_OFFSET_S + 1},
        {"interval_s": math.nan},
        {"offset_s": math.inf},
        {"enabled": "yes"},
        {"every": 5},
    ]:
        answer = call(
            world,
            "PUT",
            "/api/services/orders/schedule",
            op,
            content=json.dumps(bad),
            headers={"Content-Type": "application/json"},
        )
        error_of(answer, 422)


def test_schedule_bounds_are_the_cli_s_and_the_schema_shows_them(world: World) -> None:
    op = token(OPERATE)
    edges = {"interval_s": MIN_INTERVAL_S, "offset_s": MAX_OFFSET_S}
    doc = call(world, "PUT", "/api/services/customers/schedule", op, json=edges).json()["data"]
    assert (doc["interval_s"], doc["offset_s"]) == (MIN_INTERVAL_S, MAX_OFFSET_S)
    too_short = call(
        world, "PUT", "/api/services/customers/schedule", op, json={"interval_s": 0.05}
    )
    assert "interval_s" in error_of(too_short, 422)["message"]
    cli_says = cli(world.env, "schedule", "customers", "--interval", "0.05")
    why = interval_problem(0.05)
    assert why is not None and cli_says.returncode == 2 and why in cli_says.stderr
    assert why in error_of(too_short, 422)["message"]
    call(world, "DELETE", "/api/services/customers/schedule", op)
    schemas = call(world, "GET", "/openapi.json").json()["components"]["schemas"]
    fields = schemas["ScheduleBody"]["properties"]
    bounds = {
        name: next(s for s in fields[name]["anyOf"] if s.get("type") == "number")
        for name in ("interval_s", "offset_s")
    }
    assert bounds["interval_s"]["minimum"] == MIN_INTERVAL_S
    assert bounds["interval_s"]["maximum"] == MAX_INTERVAL_S
    assert (bounds["offset_s"]["minimum"], bounds["offset_s"]["maximum"]) == (0, MAX_OFFSET_S)


def test_controls_pause_and_resume_dispatch_and_schedule(world: World) -> None:
    op = token(OPERATE)
    data = call(world, "POST", "/api/controls/pause", op, json={"target": "schedule"}).json()
    assert data["data"] == {"dispatch_paused": True, "schedule_paused": True}
    data = call(world, "POST", "/api/controls/resume", op, json={"target": "schedule"}).json()
    assert data["data"]["schedule_paused"] is False
    assert call(world, "GET", "/api/controls", token(READ)).json()["data"]["dispatch_paused"]
    error_of(call(world, "POST", "/api/controls/stop", op), 422)
    error_of(call(world, "POST", "/api/controls/pause", op, json={"target": "all"}), 422)


# -- runs ----------------------------------------------------------------------------------


def test_runs_have_the_fields_of_history_json(world: World) -> None:
    history = json.loads(cli(world.env, "history", "--json", "--limit", "100").stdout)
    runs = call(world, "GET", "/api/runs?limit=100", token(READ)).json()["data"]
    assert runs == history
    one = call(world, "GET", f"/api/runs/{world.run_id}", token(READ)).json()["data"]
    assert one == next(r for r in history if r["id"] == world.run_id)
    only = call(world, "GET", "/api/runs?service=orders", token(READ)).json()["data"]
    assert only and all(r["service"] == "orders" for r in only)
    error_of(call(world, "GET", "/api/runs?service=nope", token(READ)), 404)
    error_of(call(world, "GET", "/api/runs/999999", token(READ)), 404)
    error_of(call(world, "GET", "/api/runs?limit=0", token(READ)), 422)
    error_of(call(world, "GET", "/api/runs?limit=1001", token(READ)), 422)
    error_of(call(world, "GET", "/api/runs?limt=5", token(READ)), 422)  # a typo is not ignored


def test_healthz_and_readyz(world: World, tmp_path: Path) -> None:
    assert call(world, "GET", "/healthz").json() == {"status": "ok"}
    assert call(world, "GET", "/readyz").json() == {"status": "ready"}
