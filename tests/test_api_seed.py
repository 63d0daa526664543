"""The HTTP API's seed endpoints and serving rules, against a real `syncdeck serve`.

The seed's web app reads `POST /api/sync/{type}/{mode}` and `GET /api/sync/status` with
fixed keys; these tests pin them, and how `serve` and `token` treat configuration.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from support.api import (
    AUDIENCE,
    ISSUER,
    OPERATE,
    READ,
    SECRET,
    SERVICES,
    ApiServer,
    api_env,
    cli,
    token,
    wait_ended,
    wait_until,
)

SEED_STATUSES = {"idle", "queued", "running", "completed", "error"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    root = tmp_path_factory.mktemp("seed")
    (root / "data").mkdir()
    started = ApiServer(api_env(root / "data"), root)
    yield started
    assert started.stop() == 0, started.log()


def iso(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def test_post_sync_answers_202_at_once_with_the_seed_shape(server: ApiServer) -> None:
    tok = token(OPERATE)
    assert server.request("POST", "/api/controls/pause", tok).status_code == 200
    try:
        for service in SERVICES:
            answer = server.request("POST", f"/api/sync/{service}/incremental", tok)
            assert answer.status_code == 202, answer.text
            body = answer.json()
            assert body["success"] is True
            assert body["message"] == f"{service} sync queued"
            request = body["data"]["request"]
            assert (request["service"], request["mode"], request["state"]) == (
                service,
                "incremental",
                "queued",
            )
            assert request["source"] == "api"
        again = server.request("POST", "/api/sync/orders/full", tok, json={"priority": 9})
        assert again.status_code == 202, again.text
        merged = again.json()
        first_id = merged["data"]["request"]["id"]
        assert merged["message"] == f"merged into queued request #{first_id}"
        assert (merged["data"]["request"]["mode"], merged["data"]["request"]["priority"]) == (
            "full",
            9,
        )
        status = server.request("GET", "/api/sync/status", token(READ)).json()["data"]
        assert {s["type"]: s["status"] for s in status["statuses"]} == dict.fromkeys(
            SERVICES, "queued"
        )
        assert status["queue"][0]["service"] == "orders"
        assert status["controls"] == {"dispatch_paused": True, "schedule_paused": False}
    finally:
        assert server.request("POST", "/api/controls/resume", tok).status_code == 200
    wait_ended(server, first_id)


def test_status_has_the_seed_keys_and_reports_a_finished_run(server: ApiServer) -> None:
    queued = server.request("POST", "/api/sync/prices/full", token(OPERATE)).json()
    ended = wait_ended(server, queued["data"]["request"]["id"])
    assert ended["outcome"] == "succeeded"
    wait_until(
        lambda: (
            server.request("GET", "/api/sync/status", token(READ)).json()["data"]["active"] is None
        ),
        20,
        "the queue to drain",
        server.log,
    )
    answer = server.request("GET", "/api/sync/status", token(READ))
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True
    data = body["data"]
    assert {"statuses", "health", "queue", "active", "runner", "controls"} <= set(data)
    for entry in data["statuses"]:
        assert set(entry) == {"type", "status", "startedAt", "completedAt", "error"}
        assert entry["status"] in SEED_STATUSES
    prices = next(s for s in data["statuses"] if s["type"] == "prices")
    assert prices["status"] == "completed" and prices["error"] is None
    started, completed = iso(prices["startedAt"]), iso(prices["completedAt"])
    assert started is not None and completed is not None and started <= completed
    assert set(data["health"]) == {"allHealthy", "services"}
    assert data["health"]["allHealthy"] is True
    assert set(data["health"]["services"]) == set(SERVICES)
    for health in data["health"]["services"].values():
        assert set(health) == {"isHealthy", "state", "reasons"}
    assert data["runner"] is not None and data["runner"]["epoch"] >= 1


def test_a_token_from_the_cli_works(server: ApiServer, tmp_path: Path) -> None:
    env = api_env(tmp_path)
    minted = cli(env, "token", "--scope", "read", "--ttl", "15m", "--sub", "cron")
    assert minted.returncode == 0, minted.stderr
    value = minted.stdout.strip()
    claims = jwt.decode(value, SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    assert (claims["sub"], claims["scope"]) == ("cron", READ)
    assert 890 <= claims["exp"] - claims["iat"] <= 900
    assert server.request("GET", "/api/sync/status", value).status_code == 200
    assert server.request("POST", "/api/sync/orders/auto", value).status_code == 403


def test_bad_configuration_and_arguments_exit_2_in_one_line(tmp_path: Path) -> None:
    env = api_env(tmp_path)
    no_auth = {k: v for k, v in env.items() if not k.startswith("SYNCDECK_API__")}
    cases = [
        (no_auth, ["serve", "--host", "0.0.0.0"], "no authentication is configured"),
        ({**env, "SYNCDECK_API__JWT_SECRET": "short-secret"}, ["serve"], "at least 32 bytes"),
        (env, ["serve", "--port", "70000"], "between 0 and 65535"),
        (env, ["token", "--scope", "admin"], "invalid choice"),
        (env, ["token", "--scope", "read", "--ttl", "soon"], "not a duration"),
        (no_auth, ["token", "--scope", "read"], "can only be minted with jwt_secret"),
    ]
    for case_env, args, message in cases:
        result = cli(case_env, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert "short-secret" not in result.stderr and SECRET not in result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = cli(env, "serve", "--port", port)
    assert result.returncode == 2 and "cannot listen on 127.0.0.1" in result.stderr


def test_es256_public_key_no_key_confusion_and_open_metrics(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_file = tmp_path / "api.pub"
    key_file.write_bytes(pem)
    (tmp_path / "data").mkdir()
    env = {k: v for k, v in api_env(tmp_path / "data").items() if k != "SYNCDECK_API__JWT_SECRET"}
    env["SYNCDECK_API__JWT_PUBLIC_KEY_FILE"] = str(key_file)
    env["SYNCDECK_API__JWT_PUBLIC_KEY_ALGORITHM"] = "ES256"
    env["SYNCDECK_API__METRICS_AUTH"] = "none"
    minted = cli(env, "token", "--scope", "read")
    assert minted.returncode == 2 and "only jwt_public_key_file" in minted.stderr
    server = ApiServer(env, tmp_path, "--no-runner")
    try:
        exp = int(time.time()) + 3600  # within the token lifetime limit
        claims = {"scope": READ, "exp": exp, "aud": AUDIENCE, "iss": ISSUER}
        good = jwt.encode(claims, private, algorithm="ES256")
        assert server.request("GET", "/api/services", good).status_code == 200
        forged = jwt.encode(claims, SECRET, algorithm="HS256")
        answer = server.request("GET", "/api/services", forged)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert server.request("GET", "/metrics").status_code == 200  # metrics_auth = none
        assert server.request("GET", "/api/services").status_code == 401
    finally:
        assert server.stop() == 0


def test_loopback_without_keys_needs_no_token_and_stops_cleanly(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    env = {k: v for k, v in api_env(tmp_path / "data").items() if "SYNCDECK_API__" not in k}
    server = ApiServer(env, tmp_path)
    try:
        assert "no authentication (loopback only)" in server.err.read_text()
        assert server.request("GET", "/api/sync/status").status_code == 200
        assert server.request("POST", "/api/sync/orders/auto").status_code == 202
    finally:
        assert server.stop() == 0, server.log()
    status = cli(env, "status", "--json")
    assert '"runner": null' in status.stdout  # the lease was released on SIGTERM
