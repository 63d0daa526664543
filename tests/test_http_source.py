"""The http source end to end against `syncdeck demo-erp serve`, a real subprocess on loopback.

The server runs on its own data directory (its demo ERP file), the client side
(orchestrator, replica, `syncdeck verify`) on another, so nothing passes between
them but HTTP. What the client reads is checked against the demo ERP's own
listing of the server's file. A few cases the demo server cannot produce
(invalid JSON, a 502 page from a proxy) go through an httpx mock transport.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from conftest import REPO, SYNCDECK

from core.config import Settings
from core.demo import DEMO_FILENAME, DemoERP
from core.entities import ENTITIES
from core.errors import SourceError, SourceUnavailable, TransientError
from core.models import RunOutcome, SyncMode
from core.orchestrator import Orchestrator
from core.runtime import open_replica
from core.runtime.services import entity_services
from core.sources.http import HttpSource

pytestmark = pytest.mark.timeout(60)

TOKEN = "s3cret-test-token"
SIZES = {"customers": 40, "products": 1200, "prices": 40, "orders": 300}
"""Small, but products exceed the API's default page (1000) so the default limit shows."""
START_TIMEOUT_S = 30.0
WAIT_S = 30.0
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


# -- the server subprocess ------------------------------------------------------


class ErpServer:
    """One `syncdeck demo-erp serve` process on a free loopback port."""

    def __init__(self, data_dir: Path, faults: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        env = server_env(data_dir)
        for name, value in (faults or {}).items():
            env[f"SYNCDECK_DEMO__FAULTS__{name.upper()}"] = value
        self._log: IO[bytes] = open(data_dir / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*SYNCDECK, "demo-erp", "serve", "--port", "0", "--token", TOKEN],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        try:
            self.url = self._wait_listening()
        except BaseException:
            self.stop()
            raise

    def _wait_listening(self) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if not ready:
                break
            line = self.proc.stdout.readline().decode()
            if not line:
                pytest.fail(f"demo ERP server exited ({self.proc.wait()}): {self.log()}")
            prefix = "demo ERP serving on "
            if line.startswith(prefix):
                url = line[len(prefix) :].strip()
                assert url.startswith("http://127.0.0.1:") and not url.endswith(":0"), line
                return url
        pytest.fail(f"demo ERP server did not start within {START_TIMEOUT_S}s: {self.log()}")

    def log(self) -> str:
        self._log.flush()
        return (self.data_dir / "server.log").read_text(errors="replace")[-2000:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Signal the server and reap it (SIGKILL if it ignores the signal); its exit code,
        or None if it had to be killed."""
        code: int | None = None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self._log.close()
        return code

    def demo_listing(self, entity: str) -> list[dict[str, Any]]:
        """The entity as the demo ERP itself lists it from the server's file."""
        erp = DemoERP(self.data_dir / DEMO_FILENAME, changes_per_minute=0)
        try:
            return list(erp.iter_all(entity))
        finally:
            erp.close()


def clean_env() -> dict[str, str]:
    return {
        k: v for k, v in os.environ.items() if not k.startswith("SYNCDECK_") and k not in PROXY_VARS
    }


def server_env(data_dir: Path) -> dict[str, str]:
    env = clean_env()
    env["SYNCDECK_DATA_DIR"] = str(data_dir)
    env["SYNCDECK_DEMO__CHANGES_PER_MINUTE"] = "0"
    for entity, size in SIZES.items():
        env[f"SYNCDECK_DEMO__SIZES__{entity.upper()}"] = str(size)
    return env


@pytest.fixture(scope="module")
def erp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ErpServer]:
    server = ErpServer(tmp_path_factory.mktemp("erp"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def failing_erp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ErpServer]:
    server = ErpServer(tmp_path_factory.mktemp("erp-failing"), {"error_rate": "1"})
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _no_stray_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process Settings and httpx must not pick up the developer's SYNCDECK_* or proxies."""
    for name in list(os.environ):
        if name.startswith("SYNCDECK_") or name in PROXY_VARS:
            monkeypatch.delenv(name)


async def list_all(
    source: HttpSource, entity: str, since: str | None, limit: int
) -> tuple[list[dict[str, Any]], list[int]]:
    """Every record by following page tokens, and the size of each page."""
    records: list[dict[str, Any]] = []
    sizes: list[int] = []
    token: str | None = None
    for _ in range(10_000):
        page = await source.page(entity, since, token, limit)
        records += page.records
        sizes.append(len(page.records))
        if page.next is None:
            return records, sizes
        token = page.next
    pytest.fail("paging never ended")


# -- reading through HttpSource ----------------------------------------------------


@pytest.mark.parametrize(("entity", "limit"), [("products", 97), ("orders", 64)])
async def test_paging_lists_exactly_what_the_demo_erp_lists(
    erp: ErpServer, entity: str, limit: int
) -> None:
    expected = erp.demo_listing(entity)
    assert len(expected) == SIZES[entity]  # the server generated the sizes it was given
    async with HttpSource(erp.url, token=TOKEN, timeout_s=10) as source:
        records, sizes = await list_all(source, entity, None, limit)
        assert await source.estimate(entity, None) == len(expected)
    assert records == expected  # same records, fields, order lines and (updated_at, key) order
    assert len(sizes) == -(-len(expected) // limit)
    assert all(size == limit for size in sizes[:-1])


async def test_since_lists_records_at_or_after_the_cursor(erp: ErpServer) -> None:
    everything = erp.demo_listing("products")
    since = everything[710]["updated_at"]  # records 700..719 share this whole-second cursor
    wanted = [r for r in everything if r["updated_at"] >= since]
    assert wanted[0] == everything[700] and len(wanted) == len(everything) - 700
    async with HttpSource(erp.url, token=TOKEN, timeout_s=10) as source:
        records, _ = await list_all(source, "products", since, 50)
        estimate = await source.estimate("products", since)
    assert records == wanted
    assert estimate == len(wanted)


async def test_pages_larger_than_the_api_maximum_are_clamped(erp: ErpServer) -> None:
    async with HttpSource(erp.url, token=TOKEN, timeout_s=10) as source:
        page = await source.page("products", None, None, 50_000)  # the server refuses > 10000
    assert len(page.records) == SIZES["products"]
    assert page.next is None


@pytest.mark.parametrize("token", ["wrong-token", None])
async def test_a_refused_token_is_a_permanent_error_that_says_so(
    erp: ErpServer, token: str | None
) -> None:
    async with HttpSource(erp.url, token=token, timeout_s=10) as source:
        for call in (
            lambda: source.page("products", None, None, 10),
            lambda: source.estimate("products", None),
        ):
            with pytest.raises(SourceError) as caught:
                await call()
            assert not isinstance(caught.value, TransientError)
            assert "bad or missing token" in str(caught.value)
            assert "401" in str(caught.value)
            if token:
                assert token not in str(caught.value)


async def test_a_client_error_carries_the_servers_message(erp: ErpServer) -> None:
    async with HttpSource(erp.url, token=TOKEN, timeout_s=10) as source:
        with pytest.raises(SourceError) as caught:
            await source.page("widgets", None, None, 10)
    assert not isinstance(caught.value, TransientError)
    assert "404" in str(caught.value) and "unknown entity 'widgets'" in str(caught.value)


async def test_server_errors_are_transient(failing_erp: ErpServer) -> None:
    async with HttpSource(failing_erp.url, token=TOKEN, timeout_s=10) as source:
        with pytest.raises(SourceUnavailable) as caught:
            await source.page("products", None, None, 100)
    assert "HTTP 503" in str(caught.value)
    assert "simulated 503" in str(caught.value)  # the server's own message is passed on


async def test_a_hung_server_times_out_and_still_stops_on_sigterm(tmp_path: Path) -> None:
    server = ErpServer(tmp_path / "erp-hung", {"hang_after_pages": "0"})
    try:
        async with HttpSource(server.url, token=TOKEN, timeout_s=0.5) as source:
            assert await source.estimate("products", None) == SIZES["products"]  # alive
            started = time.monotonic()
            with pytest.raises(SourceUnavailable) as caught:
                await source.page("products", None, None, 100)
            elapsed = time.monotonic() - started
        assert 0.4 <= elapsed < 5, elapsed
        assert "did not answer" in str(caught.value) and "0.5s" in str(caught.value)
        # The request is still hung inside the server: SIGTERM must stop it anyway, cleanly.
        assert server.stop(signal.SIGTERM, timeout=10) == 0, server.log()
    finally:
        server.stop()


async def test_no_server_listening_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with HttpSource(f"http://127.0.0.1:{port}", token=TOKEN, timeout_s=5) as source:
        with pytest.raises(SourceUnavailable, match="cannot reach ERP"):
            await source.page("products", None, None, 10)


@pytest.mark.parametrize("url", ["ftp://example.com", "not a url", "http://"])
def test_a_bad_url_is_a_permanent_error(url: str) -> None:
    with pytest.raises(SourceError) as caught:
        HttpSource(url)
    assert not isinstance(caught.value, TransientError)


# -- the HTTP API itself (the contract an ERP adapter implements) ----------------


def test_the_api_contract(erp: ErpServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=erp.url, timeout=10) as http:
        health = http.get("/health")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})

        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
            refused = http.get("/v1/products", headers=headers)
            assert refused.status_code == 401 and refused.json()["error"]
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")

        first = http.get("/v1/products", headers=auth)
        assert first.status_code == 200
        assert first.headers["Content-Type"] == "application/json"
        body = first.json()
        assert set(body) == {"records", "next_page_token"}
        assert len(body["records"]) == 1000  # the default limit
        assert isinstance(body["next_page_token"], str)
        rest = http.get(
            "/v1/products",
            params={"page_token": body["next_page_token"], "limit": 10_000},
            headers=auth,
        ).json()
        assert len(rest["records"]) == SIZES["products"] - 1000
        assert rest["next_page_token"] is None
        keys = [(r["updated_at"], r["sku"]) for r in body["records"] + rest["records"]]
        assert keys == sorted(keys) and len(set(keys)) == SIZES["products"]

        count = http.get("/v1/orders/count", headers=auth)
        assert (count.status_code, count.json()) == (200, {"count": SIZES["orders"]})

        for path, params, status in [
            ("/v1/products", {"limit": "0"}, 400),
            ("/v1/products", {"limit": "10001"}, 400),
            ("/v1/products", {"limit": "ten"}, 400),
            ("/v1/products", {"since": "yesterday"}, 400),
            ("/v1/products", {"page_token": "garbage"}, 400),
            ("/v1/products", {"pagetoken": "x"}, 400),
            ("/v1/orders/count", {"limit": "5"}, 400),
            ("/v1/widgets", {}, 404),
            ("/v1/widgets/count", {}, 404),
            ("/v2/products", {}, 404),
        ]:
            response = http.get(path, params=params, headers=auth)
            assert response.status_code == status, (path, params, response.text)
            assert response.json()["error"], (path, params)

        posted = http.post("/v1/products", headers=auth, json={})
        assert posted.status_code == 405 and posted.headers["Allow"] == "GET"


# -- through the orchestrator -------------------------------------------------------


def http_settings(data_dir: Path, url: str, token: str | None = TOKEN, **extra: Any) -> Settings:
    return Settings.from_values(
        data_dir=data_dir,
        source={"kind": "http", "url": url, "token": token, "timeout_s": 10},
        sync={"batch_size": 250},
        **extra,
    )


async def started(
    settings: Settings, make_orchestrator: Callable[..., Orchestrator]
) -> Orchestrator:
    orch = make_orchestrator(
        entity_services(settings, open_replica(settings)), settings, schedule=False
    )
    await orch.start()
    return orch


def replica(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def run_verify(data_dir: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    env |= {
        "SYNCDECK_DATA_DIR": str(data_dir),
        "SYNCDECK_SOURCE__KIND": "http",
        "SYNCDECK_SOURCE__URL": url,
        "SYNCDECK_SOURCE__TOKEN": TOKEN,
    }
    return subprocess.run(
        [*SYNCDECK, "verify", "products"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )


async def test_a_full_sync_over_http_fills_the_replica_and_verify_agrees(
    erp: ErpServer, data_dir: Path, make_orchestrator: Callable[..., Orchestrator]
) -> None:
    orch = await started(http_settings(data_dir, erp.url), make_orchestrator)
    products = await orch.request("products", SyncMode.FULL)
    orders = await orch.request("orders", SyncMode.FULL)
    for request, entity in ((products, "products"), (orders, "orders")):
        result = await orch.wait(request.id, timeout=WAIT_S)
        assert result.outcome == RunOutcome.SUCCEEDED, result.run
        assert result.run is not None
        assert result.run.counts.fetched == SIZES[entity]
        assert result.run.counts.inserted == SIZES[entity]
        assert result.run.counts.rejected == 0

    db_path = data_dir / "syncdeck.db"
    for entity in ("products", "orders"):
        spec = ENTITIES[entity]
        expected = {tuple(r[c] for c in spec.columns) for r in erp.demo_listing(entity)}
        rows = replica(
            db_path,
            f"SELECT {', '.join(spec.columns)} FROM {spec.table} WHERE deleted_at IS NULL",
        )
        assert len(rows) == len(expected)
        assert set(rows) == expected, entity
    lines = {
        (o["id"], line["line_no"], line["sku"], line["quantity"], line["unit_price"])
        for o in erp.demo_listing("orders")
        for line in o["lines"]
    }
    rows = replica(db_path, "SELECT order_id, line_no, sku, quantity, unit_price FROM order_lines")
    assert len(rows) == len(lines) > SIZES["orders"]
    assert set(rows) == lines
    await orch.stop()

    verified = run_verify(data_dir, erp.url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "in sync" in verified.stdout and f"source {SIZES['products']} rows" in verified.stdout

    db = sqlite3.connect(db_path)
    with db:
        gone = db.execute("DELETE FROM products WHERE sku = 'P00000042'").rowcount
    db.close()
    assert gone == 1
    drifted = run_verify(data_dir, erp.url)
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert "missing 1" in drifted.stdout and "P00000042" in drifted.stdout


async def test_a_failing_server_fails_the_run_as_transient_and_it_is_retried(
    failing_erp: ErpServer, data_dir: Path, make_orchestrator: Callable[..., Orchestrator]
) -> None:
    retry = {"retry": {"tries": 2, "backoff_s": [0.0]}}
    settings = http_settings(data_dir, failing_erp.url, orchestrator=retry)
    orch = await started(settings, make_orchestrator)
    request = await orch.request("products", SyncMode.FULL)
    result = await orch.wait(request.id, timeout=WAIT_S)
    assert result.outcome == RunOutcome.FAILED
    runs = await orch.history("products")
    assert [run.attempt for run in runs] == [2, 1]  # transient: retried once, then given up
    for run in runs:
        assert run.outcome == RunOutcome.FAILED
        assert run.error_class == "SourceUnavailable"
        assert run.error is not None and "HTTP 503" in run.error


async def test_a_refused_token_fails_the_run_at_once(
    erp: ErpServer, data_dir: Path, make_orchestrator: Callable[..., Orchestrator]
) -> None:
    retry = {"retry": {"tries": 2, "backoff_s": [0.0]}}
    settings = http_settings(data_dir, erp.url, token="wrong", orchestrator=retry)
    orch = await started(settings, make_orchestrator)
    request = await orch.request("products", SyncMode.FULL)
    result = await orch.wait(request.id, timeout=WAIT_S)
    assert result.outcome == RunOutcome.FAILED
    runs = await orch.history("products")
    assert len(runs) == 1  # permanent: not retried
    assert runs[0].error_class == "SourceError"
    assert runs[0].error is not None and "bad or missing token" in runs[0].error


# -- what the demo server cannot produce: a mock transport -------------------------


def mock_source(
    handler: Callable[[httpx.Request], httpx.Response], token: str | None = TOKEN
) -> HttpSource:
    return HttpSource(
        "http://erp.test/api", token=token, timeout_s=5, transport=httpx.MockTransport(handler)
    )


async def test_requests_carry_the_token_and_parameters() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"records": [{"sku": "a"}], "next_page_token": "n2"})

    async with mock_source(handler) as source:
        page = await source.page("products", "2026-01-01T00:00:00Z", "n1", 50)
    assert page.records == [{"sku": "a"}] and page.next == "n2"
    (request,) = seen
    assert request.url.path == "/api/v1/products"
    assert dict(request.url.params) == {
        "limit": "50",
        "since": "2026-01-01T00:00:00Z",
        "page_token": "n1",
    }
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        (httpx.Response(200, text="<html>maintenance</html>"), SourceUnavailable, "invalid JSON"),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), SourceUnavailable, "HTTP 502"),
        (httpx.Response(429, json={"error": "slow down"}), SourceUnavailable, "slow down"),
        (httpx.Response(403, json={"error": "expired"}), SourceError, "bad or missing token"),
        (httpx.Response(400, json={"error": "since is odd"}), SourceError, "since is odd"),
        (httpx.Response(200, json=[1, 2]), SourceError, "unexpected body"),
        (httpx.Response(200, json={"records": [1]}), SourceError, "unexpected body"),
        (
            httpx.Response(200, json={"records": [], "next_page_token": "same"}),
            SourceError,
            "never end",
        ),
    ],
)
async def test_responses_are_classified(
    response: httpx.Response, error: type[Exception], message: str
) -> None:
    async with mock_source(lambda request: response) as source:
        with pytest.raises(error) as caught:
            await source.page("products", None, "same", 10)
    assert message in str(caught.value)
    assert isinstance(caught.value, TransientError) == (error is SourceUnavailable)
