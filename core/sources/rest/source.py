"""A declarative REST API as a `Source` (`[sources.NAME] kind = "rest"`): what to GET and
where things are in the answers comes from `core.sources.rest.mapping`, nothing is coded
per API.

A page is one GET of the entity's listing, with the entity's `params` and `sort`, the
incremental filter when `since` is given (`core.sources.rest.since`) and the pagination's
own parameters (`core.sources.rest.pagination`). Its records (the list at `records`,
parsed with exact numbers: `core.sources.rest.records`) become rows of raw JSON values in
`entity.columns` order, and child rows from each record's array. The page token is
self-contained JSON, so a restarted listing continues from it.

A listing that is not in cursor order (no `sort`, or a positional kind: `offset`, `page`,
`link_header`) says so on its first page with a `CursorHold` whose cap is the server's
`Date` header of that first answer (an aware UTC datetime; None without the header): the
engine moves the cursor only when the listing completes, and never past the moment the
listing began.

Requests go through one token bucket (`rate_limit_per_s`) and the retry loop
(`core.sources.rest.retry`: Retry-After, backoff, classification), with the credential of
`core.sources.rest.auth`.

Failures: `SourceError` (permanent) for a mapping it cannot use (at construction), an
unknown entity, a `since` that does not read as the cursor's kind, a page token that does
not decode, a body without a list at `records`, a next token or URL that repeats, and what
the API refuses for good; `SourceUnavailable` (transient) for what may pass, and for a
listing that kept shifting. Every message is one line naming the source and the entity,
with no secret and no API key in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from core.errors import SourceError, SourceUnavailable
from core.sources.base import CursorHold, Page
from core.sources.rest import records as rec
from core.sources.rest.auth import Auth
from core.sources.rest.check import RestCheck, run_check
from core.sources.rest.failures import Voice, server_time
from core.sources.rest.mapping import RestEntity, RestSourceSpec
from core.sources.rest.pagination import (
    POSITIONAL,
    Pager,
    PagingError,
    Shifting,
    join,
    missing,
)
from core.sources.rest.retry import Requester
from core.sources.rest.since import filter_params
from core.sources.rest.throttle import NoLimit, TokenBucket
from core.sources.rest.validate import problems

USER_AGENT = "syncdeck-rest-source/1"
GONE = frozenset({404, 410})


class RestSource:
    """Reads one REST API. Built per run; `close()` releases its connections."""

    def __init__(
        self,
        spec: RestSourceSpec,
        entities: Mapping[str, RestEntity],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        auth = spec.auth
        query_key = auth.name if auth.kind == "api_key" and auth.location == "query" else None
        secrets = (auth.token, auth.password, auth.value, auth.client_secret)
        self.voice = Voice(spec.name, secrets, query_key)
        found = problems(spec, entities)
        if found:
            raise SourceError(self.voice.line(None, "mapping", "; ".join(found)))
        self.spec = spec
        self.name = spec.name
        self.entities = dict(entities)
        self.zone = ZoneInfo(spec.timezone)
        self._pagers = {n: Pager(e, spec.base_url, query_key) for n, e in entities.items()}
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **spec.headers}
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(spec.timeout_s),
            follow_redirects=False,
            transport=transport,
        )
        rate = spec.rate_limit_per_s
        bucket = TokenBucket(rate) if rate is not None else NoLimit()
        self.auth = Auth(auth, self._client, bucket, self.voice, spec.timeout_s)
        self._requester = Requester(spec, self._client, self.auth, bucket, self.voice)

    def __repr__(self) -> str:
        return f"RestSource({self.name!r}, {sorted(self.entities)})"

    async def __aenter__(self) -> RestSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the Source protocol ------------------------------------------------

    async def page(self, entity: str, since: str | None, token: str | None, limit: int) -> Page:
        return (await self.read(entity, since, token, limit))[0]

    async def estimate(self, entity: str, since: str | None) -> int | None:
        """The listing's total when the body gives one (`total_path`), read from a first
        page of one record; None otherwise or if anything fails (it is only for progress)."""
        spec = self.entities.get(entity)
        if spec is None or not spec.pagination.total_path:
            return None
        pager = self._pagers[entity]
        try:
            request = pager.request(None, 1)
            params = {**self._fixed(spec, since), **request.params}
            size = spec.pagination.size_param or spec.pagination.limit_param
            if size:
                params[size] = "1"
            answer = await self._requester.get(entity, request.url, params)
        except (SourceError, SourceUnavailable):
            return None
        total = rec.at(answer.body, spec.pagination.total_path)
        if isinstance(total, bool) or not isinstance(total, int):
            return None
        return total if total >= 0 else None

    async def close(self) -> None:
        await self._client.aclose()

    # -- beyond the protocol ------------------------------------------------

    def listing_may_skip(self, entity: str) -> bool:
        """A positional listing (`offset`, `page`, `link_header`) may skip a live row while
        rows change (`ShiftingSource`): a row it misses is only a delete candidate."""
        return self._entity(entity).pagination.kind in POSITIONAL

    async def item_gone(self, entity: str, key_values: tuple[Any, ...]) -> bool | None:
        """Whether the record with this key is gone from the API: a GET of its `item_path`
        answers 404 (or 410): True; 2xx: False; None without an `item_path`; anything else
        raises as a page does."""
        spec = self._entity(entity)
        if spec.item_path is None:
            return None
        if len(key_values) != len(spec.key):
            detail = f"{len(key_values)} key values for a key of {len(spec.key)} columns"
            raise SourceError(self.voice.line(entity, "item check", detail))
        filled = {k: quote(str(v), safe="") for k, v in zip(spec.key, key_values, strict=True)}
        url = join(self.spec.base_url, spec.item_path.format(**filled))
        answer = await self._requester.get(entity, url, dict(spec.params), parse=False, accept=GONE)
        return answer.response.status_code in GONE

    async def check(self, entity: str) -> RestCheck:
        """What the API's first pages say about the entity's mapping (see `RestCheck`);
        every failure is one of its `problems`, never raised."""
        spec = self.entities.get(entity)
        if spec is None:
            line = self.voice.line(entity, "check", "no such entity in this source")
            return RestCheck(entity=entity, source=self.name, problems=[line])

        async def fetch(token: str | None) -> tuple[Page, list[Any]]:
            return await self.read(entity, None, token, 3)

        return await run_check(spec, self.name, self.voice, fetch)

    async def read(
        self, entity: str, since: str | None, token: str | None, limit: int
    ) -> tuple[Page, list[Any]]:
        """`page`, and the page's new records as the API gave them."""
        spec = self._entity(entity)
        pager = self._pagers[entity]
        try:
            place = pager.place(token)
        except PagingError as exc:
            raise SourceError(self.voice.line(entity, "page", str(exc))) from None
        request = pager.request(place, limit)
        fixed = self._fixed(spec, since)
        if place is not None and place.url:  # the API's next URL: its own query stands
            fixed = missing(httpx.URL(place.url), fixed)
        ours = {**fixed, **request.params}
        answer = await self._requester.get(entity, request.url, ours)
        response = answer.response
        what = f"GET {self.voice.shown(httpx.URL(request.url).copy_merge_params(ours))}"
        try:
            found = rec.records_of(answer.body, spec.records)
        except ValueError as exc:
            raise SourceError(self.voice.line(entity, what, str(exc))) from None
        keys = [rec.key_text(spec, r) for r in found]
        try:
            turn = pager.follow(place, response.request.url, ours, response, answer.body, keys)
        except PagingError as exc:
            raise SourceError(self.voice.line(entity, what, str(exc))) from None
        except Shifting as exc:
            raise SourceUnavailable(self.voice.line(entity, what, str(exc))) from None
        new = found[turn.start :]
        rows, children = rec.rows(spec, new)
        hold = None
        if token is None and pager.unordered:
            hold = CursorHold(cap=server_time(response))
        page = Page(
            columns=tuple(c.name for c in spec.columns),
            rows=rows,
            children=children,
            next=pager.token(turn.next),
            hold=hold,
        )
        return page, new

    # -- plumbing -----------------------------------------------------------

    def _entity(self, entity: str) -> RestEntity:
        spec = self.entities.get(entity)
        if spec is None:
            raise SourceError(self.voice.line(entity, "read", "no such entity in this source"))
        return spec

    def _fixed(self, spec: RestEntity, since: str | None) -> dict[str, str]:
        """The query parameters of every request of a listing: `params`, `sort`, the filter."""
        try:
            wanted = filter_params(spec, since, self.zone)
        except ValueError as exc:
            raise SourceError(self.voice.line(spec.name, "since", str(exc))) from None
        return {**spec.params, **spec.sort, **wanted}
