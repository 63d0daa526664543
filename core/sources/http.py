"""An ERP's REST JSON API as a `Source` (source.kind = "http").

The API it reads is the one `syncdeck demo-erp serve` implements and documents
(see `core.demo.server`): `GET /v1/{entity}` for pages chained by an
opaque `next_page_token`, `GET /v1/{entity}/count` for progress estimates,
bearer-token authentication.

How failures are classified, so the orchestrator retries only what may pass:

- no connection, a timeout (no bytes for `timeout_s` while connecting, sending
  or reading), HTTP 5xx, 408 or 429, or a body that is not valid JSON:
  `SourceUnavailable` (transient, retried with backoff);
- HTTP 401 or 403 (the token was refused), any other 4xx (with the server's
  `error` message), a URL that is not http(s), or a JSON body that breaks the
  contract: `SourceError` (permanent, not retried). Breaking the contract means
  not `{"records": [objects], "next_page_token": str | null}`, or a token that
  does not advance.

The token is sent only in the `Authorization` header and never appears in an
error message.
"""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import quote

from core.errors import SourceError, SourceUnavailable
from core.sources.base import Page

# httpx imports its own command line (click, rich, pygments: tens of milliseconds, and a UI
# library in the headless core) whenever click is installed, as uvicorn installs it.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
import httpx  # noqa: E402

API_PREFIX = "/v1"
DEFAULT_LIMIT = 1000
"""Page size a server uses when the request names none."""
MAX_LIMIT = 10_000
"""Largest page a server must accept; larger requests are clamped to it by the client."""
USER_AGENT = "syncdeck-http-source/1"

_TRANSIENT_STATUS = {408, 429}


def _error_detail(response: httpx.Response) -> str:
    """The server's `{"error": ...}` message, else the start of the body, else the reason."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]:
        return str(body["error"])
    text = response.text.strip()
    if text:
        return text[:200] + ("..." if len(text) > 200 else "")
    return response.reason_phrase or "no detail"


class HttpSource:
    """Reads one ERP over HTTP. Made per run (see `core.runtime.services.source_factory`);
    `close()` releases its connections."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        try:
            base = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise SourceError(f"source.url {url!r} is not a valid URL: {exc}") from exc
        if base.scheme not in ("http", "https") or not base.host:
            raise SourceError(
                f"source.url {url!r} must be an http:// or https:// URL with a host, "
                "e.g. http://127.0.0.1:8765"
            )
        if timeout_s <= 0:
            raise SourceError(f"source.timeout_s must be > 0, not {timeout_s}")
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if token:
            if not (token.isascii() and token.isprintable()):
                raise SourceError("source.token may hold printable ASCII characters only")
            headers["Authorization"] = f"Bearer {token}"
        self.url = str(base).rstrip("/")
        self.timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            base_url=base,
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            transport=transport,
        )

    async def __aenter__(self) -> HttpSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the Source protocol ------------------------------------------------

    async def page(self, entity: str, since: str | None, token: str | None, limit: int) -> Page:
        params: dict[str, str | int] = {"limit": max(1, min(limit, MAX_LIMIT))}
        if since is not None:
            params["since"] = since
        if token is not None:
            params["page_token"] = token
        path = f"{API_PREFIX}/{quote(entity, safe='')}"
        body = await self._get(path, params)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SourceError(
                f"ERP at {self.url} answered GET {path} with an unexpected body: "
                'expected {"records": [objects], "next_page_token": string or null}'
            )
        next_token = body.get("next_page_token")
        if next_token is not None and not isinstance(next_token, str):
            raise SourceError(
                f"ERP at {self.url} answered GET {path} with a next_page_token that is "
                f"not a string or null: {next_token!r}"[:300]
            )
        if next_token is not None and next_token == token:
            raise SourceError(
                f"ERP at {self.url}: GET {path} returned the page_token it was given, "
                "so paging would never end"
            )
        return Page(records, next_token or None)

    async def estimate(self, entity: str, since: str | None) -> int | None:
        params: dict[str, str | int] = {} if since is None else {"since": since}
        body = await self._get(f"{API_PREFIX}/{quote(entity, safe='')}/count", params)
        count = body.get("count") if isinstance(body, dict) else None
        if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            return count
        return None  # only a progress hint: a bad count does not fail the run

    async def close(self) -> None:
        await self._client.aclose()

    # -- plumbing -----------------------------------------------------------

    async def _get(self, path: str, params: dict[str, str | int]) -> Any:
        """GET `path` and return its decoded JSON body, or raise the classified error."""
        what = f"GET {path}"
        try:
            response = await self._client.get(path, params=params)
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(
                f"ERP at {self.url} did not answer {what} within {self.timeout_s:g}s "
                f"({type(exc).__name__})"
            ) from exc
        except httpx.UnsupportedProtocol as exc:
            raise SourceError(f"source.url {self.url}: {exc}") from exc
        except httpx.RequestError as exc:
            reason = str(exc) or type(exc).__name__
            raise SourceUnavailable(f"cannot reach ERP at {self.url} ({what}): {reason}") from exc
        status = response.status_code
        if status == 200:
            try:
                return response.json()
            except ValueError as exc:
                raise SourceUnavailable(
                    f"ERP at {self.url} answered {what} with invalid JSON: {exc}"
                ) from exc
        detail = _error_detail(response)
        if status in (401, 403):
            raise SourceError(
                f"ERP at {self.url} refused the token (HTTP {status}: {detail}): "
                "bad or missing token; check source.token"
            )
        if status >= 500 or status in _TRANSIENT_STATUS:
            raise SourceUnavailable(f"ERP at {self.url} answered HTTP {status} to {what}: {detail}")
        raise SourceError(f"ERP at {self.url} rejected {what} (HTTP {status}): {detail}")
