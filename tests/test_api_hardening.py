"""The API's front door against hostile input, against a real `syncdeck serve` over TCP.

Crafted tokens get a 401 with a `WWW-Authenticate` inside RFC 6750's characters and echo
nothing, in the answer or the log; bodies are refused (401 without a token, 413 over the
limit, counted while they stream) before they are read, so the server's memory stays
flat under a 1 GiB upload; headers over the limit get a JSON 431; a body that is not JSON
gets 415; a token's `exp` must be a number no further ahead than the lifetime cap.
Requests httpx would not send (crafted bytes, endless bodies) go over a raw socket.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.api import (
    AUDIENCE,
    ISSUER,
    OPERATE,
    ApiServer,
    api_env,
    forged,
    raw_exchange,
)

CHALLENGE = re.compile(
    r'Bearer realm="syncdeck"(, error="invalid_token"'
    r', error_description="[\x20\x21\x23-\x5b\x5d-\x7e]*")?'
)
"""RFC 6750 section 3: error_description is %x20-21 / %x23-5B / %x5D-7E."""
MARKER = "ZQXJ-attacker-text"
"""Put into every crafted token: it must never come back, nor reach the log."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    root = tmp_path_factory.mktemp("hardening")
    (root / "data").mkdir()
    started = ApiServer(api_env(root / "data"), root)
    yield started
    log = started.err.read_text()
    assert started.stop() == 0, started.log()
    assert "Traceback" not in log and "unexpected error" not in log, log
    assert MARKER not in log, log


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"scope": OPERATE, "exp": now + 300, "aud": AUDIENCE, "iss": ISSUER, **extra}


def crafted_tokens() -> dict[str, str]:
    hs = {"alg": "HS256", "typ": "JWT"}
    return {
        "crit non-ASCII": forged({**hs, "crit": ["中", MARKER]}, claims()),
        "crit CR LF": forged({**hs, "crit": [f"\r\nX-{MARKER}: 1"]}, claims()),
        "crit quotes and backslashes": forged({**hs, "crit": [f'a"b\\c{MARKER}"\\']}, claims()),
        "crit not a list": forged({**hs, "crit": f"\x00{MARKER}"}, claims()),
        "long kid, wrong key": forged(
            {**hs, "kid": MARKER + "k" * 6000}, claims(), secret="another-key-" + "k" * 32
        ),
        "kid an object": forged({**hs, "kid": {"x": MARKER}}, claims()),
        "alg unknown": forged({"alg": f'{MARKER}\r\n"\\中'}, claims()),
        "alg none with crit": forged({"alg": "none", "crit": [MARKER]}, claims()),
        "header not JSON": forged(f"\xff{MARKER}".encode("latin-1"), claims()),
        "header a list": forged(json.dumps([MARKER]).encode(), claims()),
        "claims not JSON": forged(hs, f"{{{MARKER}".encode()),
        "claims a list": forged(hs, json.dumps([MARKER]).encode()),
        "aud non-ASCII": forged(hs, claims(aud=f"中\r\n{MARKER}")),
        "iss with quotes": forged(hs, claims(iss=f'"{MARKER}\\')),
        "exp a word": forged(hs, claims(exp=f"{MARKER}\r\n")),
        "nbf a word": forged(hs, claims(nbf=MARKER)),
        "two segments": f"{MARKER}.{MARKER}",
        "not base64": f'{MARKER}!.{MARKER}\\."',
    }


def assert_refused(answer: Any, status: int = 401) -> dict[str, Any]:
    """The one error body with `status` and, for a 401, a challenge a client can parse."""
    assert answer.status_code == status, (answer.status_code, answer.text)
    body = answer.json()
    assert set(body) == {"success", "error"} and body["success"] is False, body
    assert set(body["error"]) == {"code", "message"}, body
    if status == 401:
        assert body["error"]["code"] == "unauthorized"
        assert CHALLENGE.fullmatch(answer.headers["www-authenticate"]), answer.headers
    error: dict[str, Any] = body["error"]
    return error


class Raw:
    """A RawAnswer seen like an httpx answer by `assert_refused`."""

    def __init__(self, answer: Any) -> None:
        self.status_code = answer.status
        self.headers = answer.headers
        self.text = answer.body.decode("latin-1")
        self.json = answer.json


# -- finding 16: crafted tokens ------------------------------------------------------------


def test_crafted_tokens_get_a_401_with_a_safe_challenge_and_leave_no_trace(
    server: ApiServer,
) -> None:
    for name, crafted in crafted_tokens().items():
        for method, path in [("GET", "/api/sync/status"), ("POST", "/api/sync/orders/auto")]:
            answer = server.request(method, path, crafted)
            error = assert_refused(answer)
            everything = answer.text + json.dumps(dict(answer.headers))
            assert MARKER not in everything and "中" not in answer.text, (name, everything)
            assert error["message"].isascii(), (name, error)
    head = b"GET /api/sync/status HTTP/1.1\r\nHost: t\r\n"
    for authorization in [
        "Bearer 中".encode(),
        b"Bearer \xff\xfe" + MARKER.encode(),
        b"Bearer",
        b"Bearer  ",
        b"Basic " + MARKER.encode(),
        b"bearer " + MARKER.encode(),
    ]:
        raw = raw_exchange(server.url, head + b"Authorization: " + authorization + b"\r\n\r\n")
        assert_refused(Raw(raw))
        assert MARKER.encode() not in raw.body
    assert server.request("GET", "/healthz").status_code == 200
    log = server.err.read_text()
    assert "Traceback" not in log and MARKER not in log and "中" not in log, log
