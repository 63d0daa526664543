"""Helpers of the HTTP API tests: a real `syncdeck serve` subprocess, tokens good and bad.

Every test talks to the API over TCP with httpx, as a script would, or over a raw socket
where httpx would not send the request (crafted bytes, endless bodies). Waiting is done by
polling the API (or reading the event stream) with a deadline, never by sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt
from conftest import REPO, SYNCDECK

from support.procs import cli as cli
from support.procs import stop
from support.procs import wait_until as wait_until

SECRET = "tests-only-secret-" + "x" * 30
AUDIENCE = "syncdeck-tests"
ISSUER = "https://issuer.test"
READ = "syncdeck:read"
OPERATE = "syncdeck:operate"
SERVICES = ["customers", "orders", "prices", "products"]
READY = re.compile(r"syncdeck serve on (http://\S+)")

T = TypeVar("T")


def api_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A `syncdeck` environment on `data_dir`: simulated 0.2 s runs, no schedule, HS256 auth
    with an audience and an issuer (so that every check the matrix makes is switched on)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCDECK_")}
    env.update(
        SYNCDECK_DATA_DIR=str(data_dir),
        SYNCDECK_SOURCE__KIND="simulated",
        SYNCDECK_SIMULATION__RUN_SECONDS="0.2",
        SYNCDECK_SCHEDULE__ENABLED="false",
        SYNCDECK_API__JWT_SECRET=SECRET,
        SYNCDECK_API__AUDIENCE=AUDIENCE,
        SYNCDECK_API__ISSUER=ISSUER,
    )
    env.update(extra)
    return env


def token(
    scope: str = OPERATE,
    *,
    secret: str = SECRET,
    ttl: float = 300,
    audience: str | None = AUDIENCE,
    issuer: str = ISSUER,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "tests", "scope": scope, "iat": now, "exp": now + ttl}
    if audience is not None:
        claims["aud"] = audience
    claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm="HS256")


def unsigned_token(scope: str = OPERATE) -> str:
    """`alg: none`, otherwise perfect: it must be refused like a bad signature."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": "x", "scope": scope, "exp": now + 300, "aud": AUDIENCE, "iss": ISSUER}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def bad_tokens() -> dict[str, str | None]:
    """Every kind of token that must get a 401, by name."""
    return {
        "no token": None,
        "bad signature": token(secret="another-secret-of-more-than-32-bytes!!"),
        "expired": token(ttl=-3600),
        "wrong audience": token(audience="somebody-else"),
        "alg none": unsigned_token(),
    }


def bearer(value: str | None) -> dict[str, str]:
    return {} if value is None else {"Authorization": f"Bearer {value}"}


class ApiServer:
    """`syncdeck serve --port 0` in the background; `url` once it listens."""

    def __init__(self, env: dict[str, str], logs: Path, *args: str, name: str = "serve") -> None:
        self.env = env
        self.data_dir = Path(env["SYNCDECK_DATA_DIR"])
        self.err = logs / f"{name}.err"
        self.out = logs / f"{name}.out"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                [*SYNCDECK, "serve", "--port", "0", *args],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=err,
            )
        self.url = wait_until(self._listening, 30, "syncdeck serve to listen", self.log)
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def _listening(self) -> str | None:
        assert self.proc.poll() is None, self.log()
        match = READY.search(self.err.read_text())
        return match.group(1) if match else None

    def log(self) -> str:
        return f"stderr:\n{self.err.read_text()}\nstdout:\n{self.out.read_text()}"

    def request(
        self, method: str, path: str, tok: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**bearer(tok), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def stop(self) -> int:
        self.client.close()
        return stop(self.proc)


def wait_ended(server: ApiServer, request_id: int, timeout: float = 30) -> dict[str, Any]:
    """Poll `GET /api/requests/{id}` until the request has ended; return it."""

    def ended() -> dict[str, Any] | None:
        answer = server.request("GET", f"/api/requests/{request_id}", token(READ))
        assert answer.status_code == 200, answer.text
        request: dict[str, Any] = answer.json()["data"]["request"]
        return request if request["state"] in ("finished", "cancelled") else None

    return wait_until(ended, timeout, f"request #{request_id} to end", server.log)


def forged(
    header: dict[str, Any] | bytes, claims: dict[str, Any] | bytes, secret: str = SECRET
) -> str:
    """A token with any header and claims (JSON, or raw bytes that need not be JSON), signed
    HS256 with `secret`: what an attacker, or a broken issuer, can send."""

    def part(value: dict[str, Any] | bytes) -> bytes:
        data = value if isinstance(value, bytes) else json.dumps(value).encode()
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = part(header) + b"." + part(claims)
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


@dataclass
class RawAnswer:
    """One HTTP/1.1 answer read off a socket: header names in lower case."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def read_answer(sock: socket.socket, already: bytes = b"") -> RawAnswer:
    """Read one answer (headers, then `content-length` bytes of body) from `sock`."""
    data = already
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"the server closed the connection after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return RawAnswer(int(status_line.split()[1]), headers, body[:length])


def raw_exchange(url: str, *pieces: bytes, pause: float = 0.0, timeout: float = 10) -> RawAnswer:
    """Send `pieces` (bytes as they go on the wire, `pause` seconds apart) on a new
    connection to `url` and read the answer."""
    with socket.create_connection(address(url), timeout=timeout) as sock:
        for piece in pieces:
            try:
                sock.sendall(piece)
            except OSError:  # the server answered early and closed; the answer is read below
                break
            if pause:
                time.sleep(pause)
        return read_answer(sock)


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def rss_mib(pid: int) -> float:
    """The resident memory of process `pid` (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")
