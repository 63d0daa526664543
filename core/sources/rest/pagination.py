"""How a REST listing moves from page to page (`Pagination`), and where it ends.

`Pager.request` says what to GET for a page (the URL and the pagination's own query
parameters); `Pager.follow` reads the answer and says which of its records are new and
where the next page is, as a `Place` that the source hands the engine as its opaque page
token (compact JSON, self-contained: a restarted listing, or another instance, continues
from it; an API key never goes in it). The kinds:

- `link_header`: the `rel="next"` target of the `Link` header (`core.sources.rest.links`),
  resolved against the request URL; `next_url`: a URL at `path` in the body, resolved the
  same way. A next URL (or a token's) on another origin than the listing's is refused
  (it would be sent the credential).
- `cursor`: a token at `path` in the body, sent back as the query parameter `param`.
- `offset`: `param` and `limit_param` = `limit`; `page`: `param` (from 1) and `size_param`
  = `size`. A total (`total_path` in the body, else an `X-Total-Count` header) or, for
  `page`, a last page number (`last_page_path`) says where they end; without one, a short
  page ends them. `none`: one page.

Every listing also ends at an empty page, and at a missing, null or empty next token or
URL. For the other kinds, `limit_param`, when given, is sent too (`limit`, else the
engine's batch size).

Positional listings shift when rows before the position disappear (a delete, or a row
updated and moved to the end of a cursor-sorted listing), and a row would never be read.
`offset` requests each next page one row early and checks that the previous page's last
record (its key, carried in the token) is in it: first, as it should be, and then dropped;
elsewhere (rows came before it), and the rows around it are all handed on; not at all, and
the listing shifted: the pager steps back a page (not below 0) and reads again until it
finds it, or restarts at 0. `page` and `link_header` see a shift only through their
total: a total that changed since the previous page makes the previous page be read again
(`link_header` once per change: a page read again carries no URL before it). Read-again
rows are duplicates, which the engine counts unchanged. More than `MAX_SHIFT_STEPS` steps in one
listing is `Shifting` (the source: SourceUnavailable, "the listing kept shifting").

`PagingError` (the source: SourceError, permanent) is a page that leads nowhere: a next
token or URL that repeats the one just used, an offset or page that gives no record past
the previous page's last (an API that ignores the parameter), a next value that is not
text, a token that does not decode or belongs to another listing.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import httpx
import msgspec

from core.sources.rest.links import next_link
from core.sources.rest.mapping import RestEntity
from core.sources.rest.records import MISSING, at

POSITIONAL = frozenset({"offset", "page", "link_header"})
"""Kinds whose pages are positions in a listing that may shift while it is read."""
MAX_SHIFT_STEPS = 20


class PagingError(ValueError):
    """The listing cannot go on: a permanent error (one phrase, no secret)."""


class Shifting(Exception):
    """The listing kept shifting under the pager: may pass."""


class Place(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """Where the next page is: the page token's content."""

    e: str
    """The entity, so a token is never used for another listing."""
    url: str | None = None
    """`link_header`, `next_url`: the next page's URL."""
    prev: str | None = None
    """`link_header`: the URL of the page before it, to read again after a shift."""
    c: str | None = None
    """`cursor`: the token to send."""
    o: int | None = None
    """`offset`: the position to request (one row before the next new one)."""
    p: int | None = None
    """`page`: the page number to request."""
    a: str | None = None
    """`offset`, `page`: the previous page's last record's key (`records.key_text`)."""
    t: int | None = None
    """The total the previous page gave."""
    s: int = 0
    """Shift steps taken so far in this listing."""
    b: bool = False
    """`offset`: this place steps back after a shift, so its page may hold the previous
    page's last record anywhere, even last."""


class Request(NamedTuple):
    url: str
    params: dict[str, str]
    """The pagination's own query parameters (position, size, token)."""


class Turn(NamedTuple):
    start: int
    """The index of the page's first record to hand on (the one before it was the previous
    page's last)."""
    next: Place | None


class Pager:
    """One entity's pagination, from its listing URL (`base_url` joined with its path)."""

    def __init__(self, entity: RestEntity, base_url: str, secret_param: str | None) -> None:
        self.entity = entity
        self.p = entity.pagination
        self.kind = entity.pagination.kind
        self.listing_url = join(base_url, entity.path)
        listing = httpx.URL(self.listing_url)
        self.origin = (listing.scheme, listing.host, listing.port)
        """Where next URLs may lead: the listing's own origin."""
        self.secret_param = secret_param

    @property
    def unordered(self) -> bool:
        """Whether a listing's cursor must wait for the listing's end (`CursorHold`): the
        API does not say it sorts by the cursor, or its pages are positions that shift."""
        return not self.entity.sort or self.kind in POSITIONAL

    def token(self, place: Place | None) -> str | None:
        return None if place is None else msgspec.json.encode(place).decode()

    def place(self, token: str | None) -> Place | None:
        """The page token decoded; PagingError when it is not one of this listing's."""
        if token is None:
            return None
        try:
            place = msgspec.json.decode(token.encode(), type=Place)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeError):
            raise PagingError(f"page token {token[:40]!r} does not decode") from None
        needed: dict[str, object] = {"link_header": place.url, "next_url": place.url}
        needed.update(cursor=place.c, offset=place.o, page=place.p, none=None)
        if place.e != self.entity.name or needed[self.kind] is None:
            raise PagingError(f"page token {token[:40]!r} is not this listing's")
        for url in (place.url, place.prev):
            try:
                parsed = httpx.URL(url or self.listing_url)
            except httpx.InvalidURL:
                parsed = None
            if parsed is None or (parsed.scheme, parsed.host, parsed.port) != self.origin:
                raise PagingError(f"page token {token[:40]!r} leads outside the API")
        return place

    def request(self, place: Place | None, limit: int) -> Request:
        p, params = self.p, {}
        if self.kind == "offset":
            params[p.param or "offset"] = str(place.o if place and place.o else 0)
            if p.limit_param:
                params[p.limit_param] = str(p.limit)
        elif self.kind == "page":
            params[p.param or "page"] = str(place.p if place and place.p else 1)
            if p.size_param:
                params[p.size_param] = str(p.size)
        elif p.limit_param:
            params[p.limit_param] = str(p.limit or max(1, limit))
        if self.kind == "cursor" and place is not None and place.c is not None:
            params[p.param or "cursor"] = place.c
        url = place.url if place is not None and place.url else self.listing_url
        return Request(url, params)

    def follow(
        self,
        place: Place | None,
        sent: httpx.URL,
        ours: dict[str, str],
        response: httpx.Response,
        body: Any,
        keys: list[str],
    ) -> Turn:
        """The page just read (`sent`: the URL requested, query and all; `ours`: the query
        parameters the source merged into it; `keys`: its records' key texts) and where the
        next one is."""
        if self.kind == "none":
            return Turn(0, None)
        total = self._total(body, response)
        steps = place.s if place is not None else 0
        if self.kind == "offset":
            return self._offset(place, keys, total, steps)
        if self.kind == "page":
            return self._page(place, body, keys, total, steps)
        if self.kind == "link_header":
            return self._link(place, sent, ours, response, keys, total, steps)
        if not keys:
            return Turn(0, None)
        found = at(body, self.p.path or "")
        if found is MISSING or found is None or found == "":
            return Turn(0, None)
        if isinstance(found, bool) or not isinstance(found, str | int):
            got = type(found).__name__
            raise PagingError(f"the next {self.kind} at {self.p.path!r} is a {got}, not text")
        if self.kind == "cursor":
            if place is not None and place.c == str(found):
                raise PagingError(
                    f"the API gave back the cursor it was sent ({str(found)[:40]!r}), "
                    "so the listing would never end"
                )
            return Turn(0, Place(e=self.entity.name, c=str(found), s=steps))
        return Turn(0, self._next_url(str(found), sent, ours, None, total, steps))

    # -- the kinds ----------------------------------------------------------

    def _offset(self, place: Place | None, keys: list[str], total: int | None, s: int) -> Turn:
        size = self.p.limit or 1
        at_, anchor = (place.o or 0, place.a) if place is not None else (0, None)
        start = 0
        if anchor is not None:
            if anchor in keys:  # rows before it were read, or are new: read them (again)
                start = 1 if keys[0] == anchor else 0
                if keys[-1] == anchor and len(keys) == size and not (place and place.b):
                    raise PagingError(
                        f"offset {at_} gave no record after the previous page's last "
                        f"(does the API honour {self.p.param!r}?)"
                    )
            elif at_ > 0:  # shifted back: read from a page earlier until the anchor shows
                back = Place(e=self.entity.name, o=max(0, at_ - size), a=anchor, t=total, b=True)
                return Turn(len(keys), self._step(back, s))
        if not keys or (len(keys) < size if total is None else at_ + len(keys) >= total):
            return Turn(start, None)
        ahead = Place(e=self.entity.name, o=at_ + len(keys) - 1, a=keys[-1], t=total, s=s)
        return Turn(start, ahead)

    def _page(
        self, place: Place | None, body: Any, keys: list[str], total: int | None, s: int
    ) -> Turn:
        number = (place.p or 1) if place is not None else 1
        if place is not None and _changed(place.t, total) and number > 1:
            return Turn(0, self._step(Place(e=self.entity.name, p=number - 1, t=total), s))
        if place is not None and keys and place.a == keys[-1]:
            raise PagingError(
                f"page {number} ends with the previous page's last record "
                f"(does the API honour {self.p.param!r}?)"
            )
        last = _count(at(body, self.p.last_page_path)) if self.p.last_page_path else None
        if not keys:
            return Turn(0, None)
        if total is not None:
            done = number * (self.p.size or len(keys)) >= total
        elif last is not None:
            done = number >= last
        else:
            done = len(keys) < (self.p.size or 1)
        if done:
            return Turn(0, None)
        return Turn(0, Place(e=self.entity.name, p=number + 1, a=keys[-1], t=total, s=s))

    def _link(
        self,
        place: Place | None,
        sent: httpx.URL,
        ours: dict[str, str],
        response: httpx.Response,
        keys: list[str],
        total: int | None,
        s: int,
    ) -> Turn:
        if place is not None and _changed(place.t, total) and place.prev is not None:
            return Turn(0, self._step(Place(e=self.entity.name, url=place.prev, t=total), s))
        target = next_link(response)
        if not keys or not target:
            return Turn(0, None)
        return Turn(0, self._next_url(target, sent, ours, self._bare(sent), total, s))

    # -- plumbing -----------------------------------------------------------

    def _next_url(
        self,
        written: str,
        sent: httpx.URL,
        ours: dict[str, str],
        prev: str | None,
        total: int | None,
        s: int,
    ) -> Place:
        try:
            target = sent.join(written)
        except httpx.InvalidURL:
            raise PagingError(f"the next URL {written[:80]!r} is not a URL") from None
        if (target.scheme, target.host, target.port) != self.origin:
            raise PagingError(
                f"the next URL leaves the API's origin ({target.scheme}://{target.host}), "
                "which would be sent the credential"
            )
        if self._bare(with_missing(target, ours)) == self._bare(sent):  # the same GET
            raise PagingError(
                f"the next URL repeats the one just read ({self._bare(sent)[:120]}), "
                "so the listing would never end"
            )
        return Place(e=self.entity.name, url=self._bare(target), prev=prev, t=total, s=s)

    def _bare(self, url: httpx.URL) -> str:
        """A URL as a token keeps it: without the API key (added to every request anyway)."""
        if self.secret_param is not None and self.secret_param in url.params:
            url = url.copy_remove_param(self.secret_param)
        return str(url)

    def _step(self, back: Place, steps: int) -> Place:
        if steps + 1 > MAX_SHIFT_STEPS:
            raise Shifting(
                f"the listing kept shifting while it was read ({MAX_SHIFT_STEPS} pages read "
                "again); rows are being deleted or moved faster than it pages"
            )
        back.s = steps + 1
        return back

    def _total(self, body: Any, response: httpx.Response) -> int | None:
        if self.kind not in POSITIONAL:
            return None
        if self.p.total_path:
            return _count(at(body, self.p.total_path))
        return _count(response.headers.get("x-total-count"))


def _count(found: Any) -> int | None:
    """A non-negative whole number from a body or a header; None if it is not one."""
    if isinstance(found, bool):
        return None
    if isinstance(found, str) and found.strip().isdigit():
        return int(found)
    try:
        whole = int(found)
    except (TypeError, ValueError, ArithmeticError):
        return None
    return whole if whole == found and whole >= 0 else None


def _changed(before: int | None, now: int | None) -> bool:
    return before is not None and now is not None and before != now


def join(base_url: str, path: str) -> str:
    """An entity's path under the source's base URL (an absolute URL stays as it is)."""
    if path.startswith(("http://", "https://")):
        return path
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def missing(url: httpx.URL, params: dict[str, str]) -> dict[str, str]:
    """Those of `params` that `url`'s query does not have: an API's next URL keeps its own
    query (json-server's `_page=2` must not become the listing's `_page=1` again), and gets
    the listing's parameters it leaves out."""
    return {k: v for k, v in params.items() if k not in url.params}


def with_missing(url: httpx.URL, params: dict[str, str]) -> httpx.URL:
    """`url` with `missing(url, params)` added."""
    return url.copy_merge_params(missing(url, params))
