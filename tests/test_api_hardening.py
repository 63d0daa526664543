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
import math
import re
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from support.api import (
    AUDIENCE,
    ISSUER,
    OPERATE,
    READ,
    ApiServer,
    RawAnswer,
    address,
    api_env,
    bearer,
    cli,
    forged,
    raw_exchange,
    read_answer,
    rss_mib,
    token,
)

from console.api.limits import MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_TOKEN_TTL_S

GIB = 1 << 30
MIB = 1 << 20
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


# -- finding 17: bodies and headers --------------------------------------------------------


def flood(
    server: ApiServer, head: bytes, chunk: bytes, limit: int
) -> tuple[RawAnswer | None, int, float]:
    """Send `head`, then `chunk` again and again until the server answers or `limit` bytes
    went out. Returns the answer (None: none came), the body bytes sent, and the server's
    largest resident memory seen meanwhile, in MiB."""
    pid = server.proc.pid
    sent = 0
    peak = rss_mib(pid)
    received = b""
    with socket.create_connection(address(server.url)) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        while sent < limit and b"\r\n\r\n" not in received:
            readable, writable, _ = select.select([sock], [sock], [], 5)
            try:
                if readable:
                    data = sock.recv(65536)
                    if not data:
                        break
                    received += data
                elif writable:
                    sent += sock.send(chunk)
            except OSError:  # the server answered and closed: the answer is read below
                break
            if sent % (4 * MIB) < len(chunk):
                peak = max(peak, rss_mib(pid))
        peak = max(peak, rss_mib(pid))
        sock.setblocking(True)
        sock.settimeout(5)
        try:
            return read_answer(sock, received), sent, peak
        except OSError:
            return None, sent, peak


def post_head(length: int | None, tok: str | None = None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    auth = "".join(f"{k}: {v}\r\n" for k, v in bearer(tok).items())
    return (
        f"POST /api/sync/orders/auto HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"{auth}{framing}\r\n\r\n"
    ).encode()


def chunked(size: int) -> bytes:
    return b"%x\r\n" % size + b" " * size + b"\r\n"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_huge_body_without_a_token_is_refused_before_it_is_read(
    server: ApiServer, framing: str
) -> None:
    before = rss_mib(server.proc.pid)
    length = GIB if framing == "content-length" else None
    chunk = b" " * MIB if length else chunked(MIB)
    answer, sent, peak = flood(server, post_head(length), chunk, 256 * MIB)
    assert answer is not None, f"no answer after {sent >> 20} MiB (rss {before:.0f}→{peak:.0f})"
    assert answer.status in (401, 413), answer
    assert_refused(Raw(answer), answer.status)
    assert sent < 64 * MIB, f"answered only after {sent >> 20} MiB of body"
    assert peak - before < 48, f"rss {before:.0f} MiB → {peak:.0f} MiB"
    assert server.request("GET", "/healthz").json() == {"status": "ok"}


def test_bodies_over_the_limit_get_413_even_with_a_token_and_in_chunks(
    server: ApiServer,
) -> None:
    op = token(OPERATE)
    before = rss_mib(server.proc.pid)
    for length, chunk in [(GIB, b" " * MIB), (None, chunked(64 * 1024))]:
        flooded, sent, peak = flood(server, post_head(length, op), chunk, 256 * MIB)
        assert flooded is not None, f"no answer after {sent >> 20} MiB"
        assert assert_refused(Raw(flooded), 413)["code"] == "body_too_large"
        assert sent < 64 * MIB and peak - before < 48, (sent, before, peak)
    padded = json.dumps({"priority": 5}).encode()
    exact = padded + b" " * (MAX_BODY_BYTES - len(padded))
    as_json = {"Content-Type": "application/json"}
    answer = server.request("POST", "/api/sync/orders/auto", op, content=exact, headers=as_json)
    assert answer.status_code == 202, answer.text
    answer = server.request(
        "POST", "/api/sync/orders/auto", op, content=exact + b" ", headers=as_json
    )
    assert_refused(answer, 413)
    head = post_head(None, op)
    raw = raw_exchange(server.url, head + chunked(MAX_BODY_BYTES) + chunked(1) + b"0\r\n\r\n")
    assert_refused(Raw(raw), 413)
    assert server.request("GET", "/api/controls", token(READ)).status_code == 200


def test_headers_over_the_limit_get_a_json_431_in_one_piece_or_many(server: ApiServer) -> None:
    big = b"X-Padding: " + b"p" * 2 * MAX_HEADER_BYTES + b"\r\n"
    request = b"GET /healthz HTTP/1.1\r\nHost: t\r\n" + big + b"\r\n"
    answer = raw_exchange(server.url, request)
    assert assert_refused(Raw(answer), 431)["code"] == "headers_too_large"
    pieces = [request[i : i + 2048] for i in range(0, len(request), 2048)]
    answer = raw_exchange(server.url, *pieces, pause=0.02)
    assert assert_refused(Raw(answer), 431)["code"] == "headers_too_large"
    answer = raw_exchange(server.url, b"NOT HTTP AT ALL\r\n\r\n")
    assert_refused(Raw(answer), 400)
    fits = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Padding: " + b"p" * 8000 + b"\r\n\r\n"
    assert raw_exchange(server.url, fits).status == 200


# -- finding 19: token lifetimes and bodies that are not JSON ------------------------------


def test_exp_must_be_a_number_no_further_ahead_than_the_lifetime_cap(
    server: ApiServer, tmp_path: Path
) -> None:
    hs = {"alg": "HS256", "typ": "JWT"}
    now = int(time.time())
    for name, exp in {
        "a string of digits": str(now + 300),
        "1e308": 1e308,
        "an integer of 400 digits": 10**400,
        "beyond the cap": now + MAX_TOKEN_TTL_S + 86400,
        "NaN": math.nan,
        "Infinity": math.inf,
        "true": True,
        "a list": [now + 300],
    }.items():
        answer = server.request("GET", "/api/controls", forged(hs, claims(exp=exp)))
        error = assert_refused(answer)
        if name in ("a string of digits", "1e308", "an integer of 400 digits", "beyond the cap"):
            assert "exp" in error["message"], (name, error)
    for exp in (now + MAX_TOKEN_TTL_S - 60, now + 300.5):
        answer = server.request("GET", "/api/controls", forged(hs, claims(exp=exp)))
        assert answer.status_code == 200, (exp, answer.text)
    longest = f"{MAX_TOKEN_TTL_S // 86400}d"
    minted = cli(api_env(tmp_path), "token", "--scope", "read", "--ttl", longest)
    assert minted.returncode == 0, minted.stderr
    assert server.request("GET", "/api/controls", minted.stdout.strip()).status_code == 200
    longer = cli(api_env(tmp_path), "token", "--scope", "read", "--ttl", f"{MAX_TOKEN_TTL_S + 1}s")
    assert longer.returncode == 2 and longest in longer.stderr


def test_a_body_that_is_not_json_gets_415(server: ApiServer) -> None:
    op = token(OPERATE)
    path = "/api/services/orders/priority"
    body = json.dumps({"priority": 3}).encode()
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        None,
    ]:
        headers = {} if content_type is None else {"Content-Type": content_type}
        answer = server.request("PUT", path, op, content=body, headers=headers)
        assert assert_refused(answer, 415)["code"] == "unsupported_media_type", content_type
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
    ]:
        answer = server.request(
            "PUT", path, op, content=body, headers={"Content-Type": content_type}
        )
        assert answer.status_code == 200, (content_type, answer.text)
    as_json = {"Content-Type": "application/json"}
    assert_refused(server.request("PUT", path, op, content=b"{nope", headers=as_json), 422)
    assert server.request("POST", "/api/sync/orders/auto", op).status_code == 202  # no body
    head = post_head(None, op).replace(b"application/json", b"text/plain")
    raw = raw_exchange(server.url, head + chunked(10) + b"0\r\n\r\n")
    assert_refused(Raw(raw), 415)


def test_the_documented_limits_are_the_enforced_ones() -> None:
    text = (REPO / "docs" / "api.md").read_text()
    for figure in (f"{MAX_BODY_BYTES} bytes", f"{MAX_HEADER_BYTES} bytes"):
        assert figure in text, figure
    assert f"{MAX_TOKEN_TTL_S // 86400} days" in text
