"""One request of a REST source, tried again while its failure may pass, then classified.

`Requester.get` sends a GET through the source's token bucket with its credential, and
returns the response (its JSON body parsed exactly, when asked) or raises:

- `SourceUnavailable` (transient: the run is retried later) when no connection could be
  made, nothing came for `timeout_s` (httpx's timeout: per connect, write and read, not a
  total), the answer was 408, 429, 5xx or a body that is not JSON (a proxy's error page or
  a cut-off body, which may pass), and `spec.retries` more attempts did not help; at once
  when a 429 or 503 asks, by `Retry-After`, to wait longer than `max_retry_after_s`.
- `SourceError` (permanent) for 401 and 403 ("the credential was refused"; with OAuth2, a
  401 first fetches a fresh token and tries once more), a redirect (point `base_url` at its
  target) and any other 4xx, quoting the API's own message.

Waits: a 429 or 503 waits what `Retry-After` says (seconds or an HTTP date); without a
usable hint (absent, 0, negative, past) and for the other transient failures it waits
`backoff_s * 2**attempt`, up to a quarter more for jitter. Never at once. Messages are
one line (see `core.sources.rest.failures`).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, NamedTuple, Protocol

import httpx

from core.errors import SourceError, SourceUnavailable
from core.sources.rest.auth import Auth
from core.sources.rest.failures import Voice, api_detail, retry_after
from core.sources.rest.mapping import RestSourceSpec
from core.sources.rest.records import loads

_TRANSIENT = {408, 429, 500, 502, 503, 504}
_HINTED = {429, 503}


class Bucket(Protocol):
    async def acquire(self) -> None: ...


class Answer(NamedTuple):
    response: httpx.Response
    body: Any
    """The parsed JSON body; None when not asked for or for an accepted non-2xx status."""


class _Retry(Exception):
    """An attempt failed in a way that may pass: wait `wait_s` (None: the backoff)."""

    def __init__(self, detail: str, wait_s: float | None = None, line: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.wait_s = wait_s
        self.line = line
        """A whole message already made (the token endpoint's), instead of `detail`."""


class Requester:
    def __init__(
        self,
        spec: RestSourceSpec,
        client: httpx.AsyncClient,
        auth: Auth,
        bucket: Bucket,
        voice: Voice,
    ) -> None:
        self.spec = spec
        self.client = client
        self.auth = auth
        self.bucket = bucket
        self.voice = voice

    def __repr__(self) -> str:
        return f"Requester({self.spec.name!r})"

    async def get(
        self,
        entity: str,
        url: str,
        params: dict[str, str],
        *,
        parse: bool = True,
        accept: frozenset[int] = frozenset(),
    ) -> Answer:
        """GET `url` with `params` merged into its query; statuses in `accept` are answers
        too (not parsed). Raises as the module's docstring says."""
        what = f"GET {self.voice.shown(httpx.URL(url).copy_merge_params(params))}"
        attempt = 0
        refreshed = False
        while True:
            try:
                return await self._attempt(entity, what, url, params, parse, accept)
            except _CredentialRefused as refused:
                if refreshed or not self.auth.refreshable or refused.status != 401:
                    detail = f"the credential was refused (HTTP {refused.status}: {refused})"
                    raise SourceError(self.voice.line(entity, what, detail)) from None
                self.auth.invalidate()  # a fresh OAuth2 token, and one more try
                refreshed = True
            except _Retry as failure:
                if attempt >= self.spec.retries:
                    tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
                    if failure.line is not None:
                        raise SourceUnavailable(f"{failure.line} ({tries})") from None
                    detail = f"{failure.detail} ({tries})"
                    raise SourceUnavailable(self.voice.line(entity, what, detail)) from None
                wait = failure.wait_s  # a Retry-After hint, already <= max_retry_after_s
                if wait is None:
                    wait = self.spec.backoff_s * 2**attempt * random.uniform(1.0, 1.25)
                await asyncio.sleep(wait)
                attempt += 1

    async def _attempt(
        self,
        entity: str,
        what: str,
        url: str,
        params: dict[str, str],
        parse: bool,
        accept: frozenset[int],
    ) -> Answer:
        headers: dict[str, str] = {}
        params = dict(params)
        try:
            await self.auth.apply(headers, params, entity)
        except SourceUnavailable as exc:  # the token endpoint: may pass, like the API
            raise _Retry(str(exc), line=str(exc)) from None
        await self.bucket.acquire()
        try:
            # merged here: httpx's `params=` would replace a next URL's own query
            target = httpx.URL(url).copy_merge_params(params)
            response = await self.client.get(target, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Retry(
                f"no answer within {self.spec.timeout_s:g}s ({type(exc).__name__})"
            ) from None
        except httpx.UnsupportedProtocol as exc:
            raise SourceError(self.voice.line(entity, what, str(exc))) from None
        except httpx.RequestError as exc:
            raise _Retry(f"cannot connect ({str(exc) or type(exc).__name__})") from None
        status = response.status_code
        if status in accept:
            return Answer(response, None)
        if 200 <= status < 300:
            if not parse:
                return Answer(response, None)
            try:
                return Answer(response, loads(response.content))
            except ValueError:
                kind = response.headers.get("content-type", "no content type")
                raise _Retry(f"HTTP {status} with a body that is not JSON ({kind})") from None
        self._classify(entity, what, response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _classify(self, entity: str, what: str, response: httpx.Response) -> None:
        """Raise what a non-2xx answer means."""
        status = response.status_code
        if status in (401, 403):
            raise _CredentialRefused(status, api_detail(response))
        if status in _HINTED:
            hint = retry_after(response)
            limit = self.spec.max_retry_after_s
            if hint is not None and hint > limit:
                detail = (
                    f"HTTP {status}: asked to wait {hint:.0f}s (Retry-After), longer than "
                    f"max_retry_after_s={limit:g}"
                )
                raise SourceUnavailable(self.voice.line(entity, what, detail))
            raise _Retry(f"HTTP {status}: {api_detail(response)}", hint)
        if status in _TRANSIENT or status >= 500:
            raise _Retry(f"HTTP {status}: {api_detail(response)}")
        if 300 <= status < 400:
            target = self.voice.shown(response.headers.get("location", ""))
            detail = f"HTTP {status}: redirected to {target}; point base_url at it"
            raise SourceError(self.voice.line(entity, what, detail))
        raise SourceError(self.voice.line(entity, what, f"HTTP {status}: {api_detail(response)}"))


class _CredentialRefused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
