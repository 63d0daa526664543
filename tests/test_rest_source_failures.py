"""The REST source when things go wrong, against a real HTTP server in the test: retries
that honour Retry-After (never at once), transient and permanent failures, a hang, every
kind of credential (OAuth2 tokens that expire mid-listing or are refused), the rate limit,
and that no message ever carries a secret.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from email.utils import formatdate
from itertools import count, pairwise
from typing import Any
from urllib.parse import parse_qsl

import pytest
from support.restserver import Reply, RestServer, Seen, Table, serve

from core.errors import SourceError, SourceUnavailable
from core.sources.rest.mapping import (
    Pagination,
    RestAuth,
    RestColumn,
    RestEntity,
    RestSourceSpec,
)
from core.sources.rest.source import RestSource

pytestmark = pytest.mark.timeout(30)

SECRETS = ("bearer-s3cret", "pa55word", "key-s3cret", "client-s3cret", "tok-1", "tok-2")
ENTITY = RestEntity(
    name="customers",
    path="customers",
    records="data",
    columns=(RestColumn("id", "id"), RestColumn("updated_at", "updated_at")),
    key=("id",),
    cursor="updated_at",
    cursor_kind="timestamp",
    pagination=Pagination(kind="cursor", path="meta.next", param="cursor"),
)
OK = Reply(body={"data": [{"id": 1, "updated_at": "2026-01-01T00:00:00Z"}]})


@pytest.fixture
def server() -> Iterator[RestServer]:
    yield from serve()


def source(server: RestServer, **spec: Any) -> RestSource:
    fields: dict[str, Any] = {"backoff_s": 0.05, "timeout_s": 5, **spec}
    return RestSource(
        RestSourceSpec(name="erp", base_url=server.url, **fields), {"customers": ENTITY}
    )


def clean(message: str) -> str:
    """A message as the operator sees it: one line, naming the source and the entity, with
    no secret in it."""
    assert message.startswith('rest source "erp"'), message
    assert "\n" not in message
    assert not [s for s in SECRETS if s in message], message
    return message


def answers(*replies: Reply) -> Any:
    """A handler giving these replies in turn, then the last one for ever."""
    it = iter(replies)
    last: list[Reply] = []

    def handler(seen: Seen) -> Reply:
        reply = next(it, None)
        if reply is not None:
            last[:] = [reply]
        return last[0]

    return handler


async def first_page(src: RestSource) -> int:
    async with src:
        return len(await src.page("customers", None, None, 100))


def gaps(server: RestServer) -> list[float]:
    times = [s.at for s in server.requests("/customers")]
    return [b - a for a, b in pairwise(times)]


async def test_429_retry_after_seconds_is_waited(server: RestServer) -> None:
    server.route("/customers", answers(Reply(429, headers={"Retry-After": "1"}), OK))
    assert await first_page(source(server)) == 1
    assert gaps(server)[0] >= 0.95


async def test_503_retry_after_as_an_http_date_is_waited(server: RestServer) -> None:
    now = time.time()
    headers: dict[str, str | None] = {
        "Date": formatdate(now, usegmt=True),
        "Retry-After": formatdate(now + 1, usegmt=True),
    }
    server.route("/customers", answers(Reply(503, headers=headers), OK))
    assert await first_page(source(server)) == 1
    assert gaps(server)[0] >= 0.95  # one second after the server's own Date


@pytest.mark.parametrize("hint", ["0", "-5", "Thu, 01 Jan 2015 00:00:00 GMT"])
async def test_a_retry_after_that_asks_for_nothing_waits_the_backoff(
    server: RestServer, hint: str
) -> None:
    server.route("/customers", answers(Reply(429, headers={"Retry-After": hint}), OK))
    assert await first_page(source(server, backoff_s=0.3)) == 1
    assert gaps(server)[0] >= 0.3  # never "retry at once"


async def test_a_retry_after_above_the_maximum_fails_at_once_as_transient(
    server: RestServer,
) -> None:
    server.route("/customers", answers(Reply(429, headers={"Retry-After": "3600"})))
    with pytest.raises(SourceUnavailable) as caught:
        await first_page(source(server, max_retry_after_s=300))
    assert "asked to wait 3600s (Retry-After), longer than max_retry_after_s=300" in clean(
        str(caught.value)
    )
    assert len(server.requests("/customers")) == 1


async def test_a_burst_of_500s_is_retried_until_it_passes(server: RestServer) -> None:
    fail = Reply(500, {"error": "database restarting"})
    server.route("/customers", answers(fail, fail, fail, OK))
    assert await first_page(source(server, retries=4)) == 1
    assert len(server.requests("/customers")) == 4
    assert all(gap >= 0.05 for gap in gaps(server))


async def test_500s_beyond_the_retries_are_transient_with_the_apis_words(
    server: RestServer,
) -> None:
    server.route("/customers", answers(Reply(502, {"message": "upstream down"})))
    with pytest.raises(SourceUnavailable) as caught:
        await first_page(source(server, retries=2))
    message = clean(str(caught.value))
    assert 'entity "customers": GET /customers' in message
    assert "HTTP 502: upstream down (3 attempts)" in message


async def test_a_hang_past_the_timeout_is_transient(server: RestServer) -> None:
    server.route("/customers", answers(Reply(hang=True)))
    started = time.monotonic()
    with pytest.raises(SourceUnavailable) as caught:
        await first_page(source(server, timeout_s=0.3, retries=1))
    assert "no answer within 0.3s" in clean(str(caught.value))
    assert time.monotonic() - started < 5
    assert len(server.requests("/customers")) == 2


async def test_a_body_that_is_not_json_is_transient(server: RestServer) -> None:
    server.route("/customers", answers(Reply(raw="<html>Bad gateway</html>")))
    with pytest.raises(SourceUnavailable, match="not JSON"):
        await first_page(source(server, retries=1))


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_credential_is_permanent_and_not_retried(
    server: RestServer, status: int
) -> None:
    server.route("/customers", answers(Reply(status, {"error": "bad token bearer-s3cret"})))
    with pytest.raises(SourceError) as caught:
        await first_page(source(server, auth=RestAuth(kind="bearer", token="bearer-s3cret")))
    assert f"the credential was refused (HTTP {status}: bad token ***)" in clean(str(caught.value))
    assert len(server.requests("/customers")) == 1


async def test_another_4xx_is_permanent_with_the_apis_message(server: RestServer) -> None:
    server.route("/customers", answers(Reply(422, {"detail": "unknown filter 'colour'"})))
    with pytest.raises(SourceError) as caught:
        await first_page(source(server))
    assert "HTTP 422: unknown filter 'colour'" in clean(str(caught.value))
    server.route("/customers", answers(Reply(400, raw="x" * 500)))
    with pytest.raises(SourceError) as caught:
        await first_page(source(server))
    assert "HTTP 400: " + "x" * 200 + "..." in clean(str(caught.value))


async def test_basic_auth(server: RestServer) -> None:
    wanted = "Basic " + base64.b64encode(b"sync:pa55word").decode()
    server.route(
        "/customers",
        lambda seen: OK if seen.headers.get("authorization") == wanted else Reply(401),
    )
    auth = RestAuth(kind="basic", username="sync", password="pa55word")
    src = source(server, auth=auth)
    assert "pa55word" not in repr(src) + repr(src.auth) + repr(src.spec)
    assert await first_page(src) == 1


async def test_api_key_in_a_header(server: RestServer) -> None:
    server.route(
        "/customers",
        lambda seen: OK if seen.headers.get("x-api-key") == "key-s3cret" else Reply(401),
    )
    auth = RestAuth(kind="api_key", name="X-Api-Key", value="key-s3cret")
    assert await first_page(source(server, auth=auth)) == 1


async def test_api_key_in_the_query_never_shows_in_a_message(server: RestServer) -> None:
    def listing(seen: Seen) -> Reply:
        if seen.query.get("api_key") != "key-s3cret":
            return Reply(401)
        if seen.query.get("cursor") == "3":
            return Reply(400, {"error": f"cursor 3 expired for {seen.query['api_key']}"})
        return Reply(body={"data": [{"id": 1}], "meta": {"next": "3"}})

    server.route("/customers", listing)
    auth = RestAuth(kind="api_key", name="api_key", location="query", value="key-s3cret")
    async with source(server, auth=auth) as src:
        first = await src.page("customers", None, None, 100)
        assert first.next is not None and "key-s3cret" not in first.next
        with pytest.raises(SourceError) as caught:
            await src.page("customers", None, first.next, 100)
    message = clean(str(caught.value))
    assert "GET /customers?cursor=3: HTTP 400" in message
    assert "cursor 3 expired for ***" in message


class TokenEndpoint:
    """Issues tok-1, tok-2, ... that live `lifetime_s`; the API answers 401 to a token it
    does not know, that expired, or that `revoked` names."""

    def __init__(self, lifetime_s: float) -> None:
        self.lifetime_s = lifetime_s
        self.issued: dict[str, float] = {}
        self.revoked: set[str] = set()
        self.refused = 0
        self._numbers = count(1)

    def token(self, seen: Seen) -> Reply:
        form = dict(parse_qsl(seen.body))
        if form.get("client_secret") != "client-s3cret" or form.get("grant_type") != (
            "client_credentials"
        ):
            return Reply(400, {"error": "invalid_client", "error_description": seen.body})
        token = f"tok-{next(self._numbers)}"
        self.issued[token] = time.monotonic()
        return Reply(body={"access_token": token, "expires_in": self.lifetime_s})

    def api(self, seen: Seen, table: Table) -> Reply:
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        issued = self.issued.get(token)
        if issued is None or time.monotonic() - issued > self.lifetime_s or token in self.revoked:
            self.refused += 1
            return Reply(401, {"error": "invalid_token"})
        return table.cursor(seen, 2)


def oauth(server: RestServer, secret: str = "client-s3cret") -> RestAuth:
    return RestAuth(
        kind="oauth2_client_credentials",
        token_url=f"{server.url}/oauth/token",
        client_id="syncdeck",
        client_secret=secret,
        scope="erp.read",
    )


async def test_oauth2_tokens_that_expire_mid_listing_are_fetched_again(
    server: RestServer,
) -> None:
    endpoint, table = TokenEndpoint(lifetime_s=0.5), Table(6)
    server.route("/oauth/token", endpoint.token)
    server.route("/customers", lambda seen: endpoint.api(seen, table))
    listed: list[Any] = []
    async with source(server, auth=oauth(server)) as src:
        token = None
        while True:
            page = await src.page("customers", None, token, 100)
            listed += [row[0] for row in page.rows or []]
            if page.next is None:
                break
            token = page.next
            await asyncio.sleep(0.6)  # the token's lifetime passes between two pages
    assert listed == [1, 2, 3, 4, 5, 6]
    assert len(endpoint.issued) == 3 and endpoint.refused == 0  # renewed before expiry
    assert "scope=erp.read" in server.requests("/oauth/token")[0].body


async def test_oauth2_a_401_fetches_a_fresh_token_once(server: RestServer) -> None:
    endpoint, table = TokenEndpoint(lifetime_s=3600), Table(1)
    endpoint.revoked.add("tok-1")
    server.route("/oauth/token", endpoint.token)
    server.route("/customers", lambda seen: endpoint.api(seen, table))
    assert await first_page(source(server, auth=oauth(server))) == 1
    assert len(endpoint.issued) == 2 and endpoint.refused == 1

    endpoint.revoked.update({"tok-3", "tok-4"})  # refused again: once only, then permanent
    with pytest.raises(SourceError) as caught:
        await first_page(source(server, auth=oauth(server)))
    assert "the credential was refused (HTTP 401: invalid_token)" in clean(str(caught.value))
    assert len(endpoint.issued) == 4


async def test_oauth2_a_refused_client_is_permanent_and_a_failing_endpoint_transient(
    server: RestServer,
) -> None:
    endpoint = TokenEndpoint(lifetime_s=3600)
    server.route("/oauth/token", endpoint.token)
    with pytest.raises(SourceError) as caught:
        await first_page(source(server, auth=oauth(server, secret="client-s3cret-wrong")))
    message = clean(str(caught.value))
    assert "fetching an OAuth2 token: the credential was refused (HTTP 400" in message
    assert server.requests("/customers") == []

    server.route("/oauth/token", answers(Reply(503, {"error": "maintenance"})))
    with pytest.raises(SourceUnavailable) as failed:
        await first_page(source(server, auth=oauth(server), retries=1))
    assert "the token endpoint answered HTTP 503: maintenance (2 attempts)" in clean(
        str(failed.value)
    )


async def test_the_rate_limit_spaces_every_request(server: RestServer) -> None:
    table = Table(5)
    server.route("/customers", lambda seen: table.cursor(seen, 1))
    async with source(server, rate_limit_per_s=10) as src:
        token = None
        for _ in range(5):
            page = await src.page("customers", None, token, 100)
            token = page.next
    times = [s.at for s in server.requests("/customers")]
    assert len(times) == 5 and times[-1] - times[0] >= 0.38  # 4 intervals of 0.1 s
