"""The REST source's words: one-line messages with no secret in them, and what a response's
headers say about time (`Retry-After`, `Date`).

Every message the source raises is built by `Voice.line`: one line, starting with
`rest source "NAME"` and the entity, then what failed. A `Voice` knows the source's secrets
(tokens, passwords, API keys, client secrets, and OAuth2 access tokens as they are fetched)
and replaces each, raw or percent-encoded, with `***` wherever it appears, the API's own
error text included; a URL is shown as its path and query with a query-located API key's
value replaced. Nothing here raises: a header that does not parse is no hint (None).
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

from core.sources.rest.records import loads

DETAIL_CHARS = 200
"""How much of an API's error body a message quotes."""
MAX_LINE = 600


class Voice:
    """How one source speaks: its name, its secrets, and the query parameter holding its API
    key (if any)."""

    def __init__(self, source: str, secrets: tuple[str | None, ...], query_key: str | None):
        self.source = source
        self.query_key = query_key
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add_secret(secret)

    def __repr__(self) -> str:
        return f"Voice({self.source!r}, {len(self._secrets)} secrets)"

    def add_secret(self, secret: str | None) -> None:
        if secret:
            self._secrets.update({secret, quote(secret, safe=""), quote_plus(secret)})

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def line(self, entity: str | None, what: str, detail: str) -> str:
        """The one-line message: source, entity, what was tried, what happened."""
        who = f'rest source "{self.source}"'
        if entity is not None:
            who += f', entity "{entity}"'
        text = " ".join(f"{who}: {what}: {detail}".split())
        text = self.redact(text)
        return text if len(text) <= MAX_LINE else text[: MAX_LINE - 3] + "..."

    def shown(self, url: httpx.URL | str) -> str:
        """A URL as messages show it: its path and query, a query API key's value hidden."""
        url = httpx.URL(url)
        if self.query_key is not None and self.query_key in url.params:
            url = url.copy_set_param(self.query_key, "***")
        query = url.query.decode("ascii", "replace")
        return self.redact(url.path + (f"?{query}" if query else ""))


def api_detail(response: httpx.Response) -> str:
    """The API's own message: a JSON `error`, `message` or `detail` field (or
    `error_description`, OAuth2's), else the start of the body, else the reason phrase."""
    try:
        body: Any = loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for name in ("error_description", "message", "detail", "error"):
            found = body.get(name)
            if isinstance(found, dict):
                found = found.get("message") or found.get("detail")
            if isinstance(found, str) and found.strip():
                return _clip(found)
    text = response.text.strip()
    return _clip(text) if text else (response.reason_phrase or "no detail")


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS] + "..."


def server_time(response: httpx.Response) -> datetime | None:
    """The response's `Date` header as an aware UTC datetime; None when absent or bad."""
    return http_date(response.headers.get("date"))


def http_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def retry_after(response: httpx.Response) -> float | None:
    """The wait a `Retry-After` header asks for, in seconds: delay-seconds, or an HTTP date
    measured from the response's own `Date` (else this host's clock). None when there is no
    usable hint: absent, unparsable, 0, negative or in the past (never "retry at once")."""
    text = response.headers.get("retry-after", "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        when = http_date(text)
        if when is None:
            return None
        now = server_time(response) or datetime.now(UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds or seconds <= 0:  # NaN, zero, negative, past
        return None
    return seconds
