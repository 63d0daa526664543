"""How a REST source's requests authenticate (`RestAuth`): `bearer`, `basic`, `api_key` (a
header or a query parameter), or `oauth2_client_credentials`.

`Auth.apply` adds the credential to one request's headers or query. For OAuth2 it first
makes sure a token is at hand: one is fetched with a form POST to `token_url`
(`grant_type=client_credentials`, `client_id`, `client_secret`, `scope` if given), cached,
and fetched again once it is within a margin of its `expires_in` (10 % of it, at most 30 s);
`invalidate` drops it, so the next request fetches a fresh one (the retry loop does that
once after a 401). A token without `expires_in` is kept until a 401.

Failures of the token endpoint: a 4xx is `SourceError` ("the credential was refused"); no
connection, a timeout, a 5xx or a body that is not JSON is `SourceUnavailable`; a JSON body
without an `access_token` is `SourceError`. No secret appears in a message or a repr.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any, Protocol

import httpx

from core.errors import SourceError, SourceUnavailable
from core.sources.rest.failures import Voice, api_detail
from core.sources.rest.mapping import RestAuth
from core.sources.rest.records import loads

MARGIN_SHARE = 0.1
MAX_MARGIN_S = 30.0


class Bucket(Protocol):
    async def acquire(self) -> None: ...


class Auth:
    def __init__(
        self,
        auth: RestAuth,
        client: httpx.AsyncClient,
        bucket: Bucket,
        voice: Voice,
        timeout_s: float,
    ) -> None:
        self.kind = auth.kind
        self._auth = auth
        self._client = client
        self._bucket = bucket
        self._voice = voice
        self._timeout_s = timeout_s
        self._token: str | None = None
        self._renew_at: float | None = None
        self._lock = asyncio.Lock()
        if auth.kind == "basic":  # as an API that echoes its headers would show it
            voice.add_secret(self._basic())

    def __repr__(self) -> str:
        return f"Auth(kind={self.kind!r})"

    @property
    def refreshable(self) -> bool:
        """Whether a 401 is worth one more try with a fresh credential."""
        return self.kind == "oauth2_client_credentials"

    def invalidate(self) -> None:
        self._token = None
        self._renew_at = None

    async def apply(self, headers: dict[str, str], params: dict[str, str], entity: str) -> None:
        a = self._auth
        if self.kind == "bearer" and a.token:
            headers["Authorization"] = f"Bearer {a.token}"
        elif self.kind == "basic":
            headers["Authorization"] = f"Basic {self._basic()}"
        elif self.kind == "api_key" and a.name and a.value is not None:
            (params if a.location == "query" else headers)[a.name] = a.value
        elif self.kind == "oauth2_client_credentials":
            headers["Authorization"] = f"Bearer {await self._access_token(entity)}"

    def _basic(self) -> str:
        pair = f"{self._auth.username or ''}:{self._auth.password or ''}".encode()
        return base64.b64encode(pair).decode("ascii")

    async def _access_token(self, entity: str) -> str:
        async with self._lock:
            fresh = self._renew_at is None or time.monotonic() < self._renew_at
            if self._token is None or not fresh:
                self._token, self._renew_at = await self._fetch(entity)
            return self._token

    async def _fetch(self, entity: str) -> tuple[str, float | None]:
        a = self._auth
        what = "fetching an OAuth2 token"
        form = {
            "grant_type": "client_credentials",
            "client_id": a.client_id or "",
            "client_secret": a.client_secret or "",
        }
        if a.scope:
            form["scope"] = a.scope
        await self._bucket.acquire()
        try:
            response = await self._client.post(a.token_url or "", data=form)
        except httpx.TimeoutException:
            detail = f"the token endpoint did not answer within {self._timeout_s:g}s"
            raise SourceUnavailable(self._voice.line(entity, what, detail)) from None
        except httpx.RequestError as exc:
            detail = f"cannot reach the token endpoint ({str(exc) or type(exc).__name__})"
            raise SourceUnavailable(self._voice.line(entity, what, detail)) from None
        status = response.status_code
        if 400 <= status < 500:
            detail = f"the credential was refused (HTTP {status}: {api_detail(response)})"
            raise SourceError(self._voice.line(entity, what, detail))
        if not 200 <= status < 300:
            detail = f"the token endpoint answered HTTP {status}: {api_detail(response)}"
            raise SourceUnavailable(self._voice.line(entity, what, detail))
        try:
            body: Any = loads(response.content)
        except ValueError:
            detail = "the token endpoint's answer is not JSON"
            raise SourceUnavailable(self._voice.line(entity, what, detail)) from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            detail = "the token endpoint's answer holds no access_token"
            raise SourceError(self._voice.line(entity, what, detail))
        self._voice.add_secret(token)
        return token, _renew_at(body.get("expires_in"))


def _renew_at(expires_in: Any) -> float | None:
    """When to fetch again: `expires_in` less a margin, from now; None: no expiry given."""
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError):
        return None
    if not seconds > 0:
        return None
    return time.monotonic() + seconds - min(MAX_MARGIN_S, seconds * MARGIN_SHARE)
