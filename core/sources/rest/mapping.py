"""What a REST source reads: the API (base URL, authentication, limits) and, per entity,
its listing (path, records, pagination, incremental filter) and where each replica
column sits in a record. Plain data, built from `[sources.NAME] kind = "rest"` and
`[entities.NAME]` by the configuration, secrets already read from their files; the
source (`core.sources.rest.source`) turns it into requests. Nothing here raises.

Column names here are replica columns; `path` is a dotted path inside one record
(`"contact.email"`; the column's own name by default).
"""

from __future__ import annotations

from typing import Literal

import msgspec

CursorKind = Literal["timestamp", "date", "integer", "text"]
AuthKind = Literal["none", "bearer", "basic", "api_key", "oauth2_client_credentials"]
PaginationKind = Literal["link_header", "next_url", "cursor", "offset", "page", "none"]


class RestAuth(msgspec.Struct, frozen=True, kw_only=True):
    """How requests authenticate. Secrets are values here, read by the configuration from
    a file or the environment; they never appear in a message."""

    kind: AuthKind = "none"
    token: str | None = None
    """`bearer`: the token."""
    username: str | None = None
    password: str | None = None
    """`basic`."""
    name: str | None = None
    location: Literal["header", "query"] = "header"
    value: str | None = None
    """`api_key`: sent as header or query parameter `name` (the configuration's `in`)."""
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None
    """`oauth2_client_credentials`: the token is fetched from `token_url`, cached, refreshed
    before it expires, and again once on a 401."""

    def __repr__(self) -> str:
        """The kind and which fields are set, never a secret's value (a spec's repr, in a log
        or a traceback, shows this)."""
        shown = ("username", "name", "location", "token_url", "client_id", "scope")
        parts = [f"kind={self.kind!r}"]
        parts += [f"{f}={getattr(self, f)!r}" for f in shown if getattr(self, f) is not None]
        secret = ("token", "password", "value", "client_secret")
        parts += [f"{f}=***" for f in secret if getattr(self, f) is not None]
        return f"RestAuth({', '.join(parts)})"


class RestSourceSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    """The `[sources.NAME]` key, for messages."""
    base_url: str
    auth: RestAuth = RestAuth()
    timeout_s: float = 30.0
    rate_limit_per_s: float | None = None
    """A token bucket across all of this source's requests (None: no limit)."""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    timezone: str = "UTC"
    """What timestamps without an offset mean."""
    max_retry_after_s: float = 300.0
    """A 429/503 asking to wait longer than this ends the run as transient, saying so."""
    retries: int = 4
    """Attempts after the first for one request that failed transiently."""
    backoff_s: float = 1.0
    """The first retry's wait without a usable `Retry-After`; doubled per attempt."""


class Pagination(msgspec.Struct, frozen=True, kw_only=True):
    kind: PaginationKind = "none"
    path: str | None = None
    """`next_url`, `cursor`: where the next URL or token is in the body (dotted)."""
    param: str | None = None
    """`cursor`: the query parameter the token goes back in; `offset`, `page`: the
    position's parameter."""
    limit_param: str | None = None
    limit: int | None = None
    """`offset`: the page size's parameter and value."""
    size_param: str | None = None
    size: int | None = None
    """`page`: the page size's parameter and value (pages count from 1)."""
    total_path: str | None = None
    last_page_path: str | None = None
    """`page`: where the body says how many records or pages there are (optional)."""


class Incremental(msgspec.Struct, frozen=True, kw_only=True):
    param: str
    """The API's filter on the cursor."""
    inclusive: bool = True
    """Whether the filter means >= (True) or > (False)."""
    format: str = "iso"
    """How the cursor is written: `iso`, `unix`, `unix_ms`, or a strftime pattern."""


class RestColumn(msgspec.Struct, frozen=True):
    name: str
    """The replica column."""
    path: str
    """Its dotted path inside a record."""


class RestChild(msgspec.Struct, frozen=True, kw_only=True):
    """Rows owned by a parent, found in an array of its record."""

    field: str
    """The dotted path of the array in the parent's record."""
    parent: str
    """The child's replica column that syncdeck fills with its parent's key."""
    columns: tuple[RestColumn, ...]
    """In the order a page's child rows carry them; `parent` among them."""
    key: tuple[str, ...]


class RestEntity(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    path: str
    """Joined to the source's base URL."""
    records: str = ""
    """The dotted path of the list of records in a body ("": the body is the list)."""
    columns: tuple[RestColumn, ...]
    """In the order a page's rows carry them: the replica's columns, the cursor last."""
    key: tuple[str, ...]
    cursor: str
    cursor_kind: CursorKind
    params: dict[str, str] = msgspec.field(default_factory=dict)
    sort: dict[str, str] = msgspec.field(default_factory=dict)
    """Params that make the API list in ascending cursor order; empty: it does not say,
    so the listing's cursor commits only when it completes (see `core.sources.base`)."""
    pagination: Pagination = Pagination()
    incremental: Incremental | None = None
    """None: every run lists everything (the engine still only writes what changed)."""
    item_path: str | None = None
    """A record's own URL, `{key}` filled in, e.g. `customers/{id}`: a 404 there confirms a
    delete candidate."""
    child: RestChild | None = None
