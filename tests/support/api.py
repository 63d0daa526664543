"""Helpers of the HTTP API tests: a real `syncdeck serve` subprocess, tokens good and bad.

Every test talks to the API over TCP with httpx, as a script would. Waiting is done by
polling the API (or reading the event stream) with a deadline, never by sleeping.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
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
