"""HTTP API benchmark: what a client of `syncdeck serve` waits, beside a FastAPI hello world.

Run from the repository root:

    .venv/bin/python bench/api.py            # about half a minute
    .venv/bin/python bench/api.py --quick    # fewer samples, shorter windows

A real `syncdeck serve` subprocess (the runner, simulated services with
run_seconds=0, schedule off, HS256 tokens) on a fresh temporary data directory,
and, served the same way (uvicorn, h11, no access log, one process), a FastAPI
app whose only route answers `{"hello": "world"}`. The clients are httpx in this
process, with keep-alive connections, on the same host.

1. `POST /api/sync/{service}/auto` -> 202 queued: one client, one request at a
   time (rotating over the four services, so some merge into a queued request),
   a random 0-5 ms pause between them; client-side latency. Target p95 <= 20 ms.
2. `GET /api/sync/status` with 16 concurrent clients for a fixed window:
   answers per second, beside the hello world measured the same way in the same
   run. Target: status >= 0.5x the hello world's rate.
3. SSE delivery: a client follows `/api/events`; events are made through the API
   (`PUT /api/services/orders/priority`), one at a time with a random 5-15 ms
   pause. Latency = arrival at the client (wall clock) - the event's `at`, the
   store's clock inside the committing transaction (same host). Target p95 <= 20
   ms. For reference, the same for events committed by another process (an
   Orchestrator in this process on the same store): those reach the API through
   the store's change polling (every 100 ms), so they are slower by design.

The exit status is 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common import fs_type  # noqa: E402

SYNCDECK = [sys.executable, "-m", "console"]
SECRET = "bench-secret-" + "b" * 32
READY = re.compile(r"on (http://\S+)")
SERVICES = ["orders", "customers", "products", "prices"]
TARGET_P95_MS = 20.0
TARGET_RATIO = 0.5
P95_TARGET = f"target p95 <= {TARGET_P95_MS:g} ms"


def hello_world() -> None:
    """The baseline server: FastAPI + uvicorn exactly as `syncdeck serve` runs them."""
    import uvicorn
    from fastapi import FastAPI

    from console.api.serve import _Server, bind

    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = _Server(config)
    host, port = sock.getsockname()[:2]
    print(f"hello world on http://{host}:{port}", file=sys.stderr, flush=True)
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: setattr(server, "should_exit", True))
    loop.run_until_complete(server.serve(sockets=[sock]))


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("w") as err:
            self.proc = subprocess.Popen(
                args, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err
            )
        deadline = time.monotonic() + 30
        while not (match := READY.search(log.read_text())):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args} did not start:\n{log.read_text()}")
            time.sleep(0.02)
        self.url = match.group(1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def post_latency(url: str, headers: dict[str, str], samples: int) -> list[float]:
    import httpx

    out = []
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        for n in range(samples + 20):
            started = time.perf_counter()
            answer = await client.post(f"/api/sync/{SERVICES[n % 4]}/auto")
            elapsed = time.perf_counter() - started
            assert answer.status_code == 202, answer.text
            if n >= 20:  # warm-up
                out.append(elapsed)
            await asyncio.sleep(random.uniform(0, 0.005))
    return out


async def rate(url: str, path: str, headers: dict[str, str], window_s: float) -> float:
    """Answers per second over 16 keep-alive connections, each one request at a time. The
    client is a few lines of asyncio (httpx would cost more CPU than the servers measured)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    done = 0
    deadline = 0.0

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                done += 1
        finally:
            writer.close()

    deadline = time.perf_counter() + 0.5  # warm-up
    await asyncio.gather(*(worker() for _ in range(16)))
    done = 0
    started = time.perf_counter()
    deadline = started + window_s
    await asyncio.gather(*(worker() for _ in range(16)))
    return done / (time.perf_counter() - started)


async def sse_latency(
    url: str, headers: dict[str, str], samples: int, make: Any, kind: str
) -> list[float]:
    """Follow the stream while `make(n)` commits `samples` events of `kind`."""
    import httpx

    arrivals: list[float] = []
    got = asyncio.Event()

    async def follow(client: httpx.AsyncClient, ready: asyncio.Event) -> None:
        async with client.stream("GET", "/api/events", timeout=None) as response:
            ready.set()
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    if event["kind"] == kind:
                        at = datetime.fromisoformat(event["at"]).timestamp()
                        arrivals.append(time.time() - at)
                        got.set()

    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        ready = asyncio.Event()
        reader = asyncio.create_task(follow(client, ready))
        await ready.wait()
        await asyncio.sleep(0.2)
        for n in range(samples):
            got.clear()
            await make(client, n)
            await asyncio.wait_for(got.wait(), 10)
            await asyncio.sleep(random.uniform(0.005, 0.015))
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return arrivals


async def measure(quick: bool, data_dir: Path, logs: Path) -> list[tuple[str, str, bool | None]]:
    from console.api.token import mint
    from core.config import Settings
    from core.runtime import build_orchestrator

    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCDECK_")}
    env.update(
        SYNCDECK_DATA_DIR=str(data_dir),
        SYNCDECK_SOURCE__KIND="simulated",
        SYNCDECK_SIMULATION__RUN_SECONDS="0",
        SYNCDECK_SCHEDULE__ENABLED="false",
        SYNCDECK_API__JWT_SECRET=SECRET,
    )
    settings = Settings.from_values(
        data_dir=data_dir, source={"kind": "simulated"}, api={"jwt_secret": SECRET}
    )
    headers = {"Authorization": "Bearer " + mint(settings.api, "operate", 3600, "bench")}
    samples, window = (100, 2.0) if quick else (400, 5.0)
    serve = Process([*SYNCDECK, "serve", "--port", "0"], env, logs / "serve.err")
    hello = Process([sys.executable, __file__, "--hello-world"], env, logs / "hello.err")
    rows: list[tuple[str, str, bool | None]] = []
    try:
        post = await post_latency(serve.url, headers, samples)
        p95 = ms(post, 0.95)
        rows.append(
            (
                f"POST /api/sync/{{service}}/auto -> 202 queued (n={len(post)})",
                f"p50 {ms(post, 0.5):.1f} ms, p95 {p95:.1f} ms   {P95_TARGET}",
                p95 <= TARGET_P95_MS,
            )
        )
        status = await rate(serve.url, "/api/sync/status", headers, window)
        baseline = await rate(hello.url, "/hello", {}, window)
        ratio = status / baseline
        rows.append(
            (
                "GET /api/sync/status, 16 concurrent clients",
                f"{status:.0f} req/s; hello world {baseline:.0f} req/s; ratio {ratio:.2f}   "
                f"target >= {TARGET_RATIO:g}x",
                ratio >= TARGET_RATIO,
            )
        )

        async def via_api(client: Any, n: int) -> None:
            answer = await client.put(
                "/api/services/orders/priority", json={"priority": 10 + n % 50}
            )
            assert answer.status_code == 200, answer.text

        sse = await sse_latency(
            serve.url, headers, samples // 2, via_api, "priority.default_changed"
        )
        p95 = ms(sse, 0.95)
        rows.append(
            (
                f"SSE delivery, events made through the API (n={len(sse)})",
                f"p50 {ms(sse, 0.5):.1f} ms, p95 {p95:.1f} ms   {P95_TARGET}",
                p95 <= TARGET_P95_MS,
            )
        )
        other = build_orchestrator(settings, runner=False)
        await other.start()
        try:

            async def elsewhere(client: Any, n: int) -> None:
                await other.set_default_priority("prices", 10 + n % 50)

            far = await sse_latency(
                serve.url, headers, samples // 4, elsewhere, "priority.default_changed"
            )
        finally:
            await other.stop()
        rows.append(
            (
                f"SSE delivery, events committed by another process (n={len(far)})",
                f"p50 {ms(far, 0.5):.1f} ms, p95 {ms(far, 0.95):.1f} ms   "
                "(reference: store polled every 100 ms)",
                None,
            )
        )
    finally:
        serve.stop()
        hello.stop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--hello-world", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hello_world:
        hello_world()
        return 0
    with tempfile.TemporaryDirectory(prefix="syncdeck-bench-api-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        print(
            f"syncdeck HTTP API benchmark: Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, store on {fs_type(data_dir)}"
        )
        rows = asyncio.run(measure(args.quick, data_dir, Path(tmp)))
    failed = False
    for metric, value, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        failed |= ok is False
        print(f"{metric:<58} {value}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
