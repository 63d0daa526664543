"""`[sources.NAME] kind = "rest"`: a JSON API over HTTP, and the REST tables of its
entities (`pagination`, `incremental`).

Each table is validated key by key like every other (`Section`). What a table's `kind`
decides (which keys each authentication and pagination kind takes; exactly one of a
secret's `_file` and `_env`) is checked by `rest_source_problems`, `pagination_problems`
and `incremental_problems`, as (key, reason) lines, one per mistake, reported with the
others by `core.config.entity_checks`. Secrets are never written here, only the file or
the environment variable that holds one: they are read when the source is built
(`core.runtime.services`). Nothing here raises.
"""

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from core.config import limits
from core.config.notify import is_http_url
from core.config.section import Section

AuthKind = Literal["bearer", "basic", "api_key", "oauth2_client_credentials"]
PaginationKind = Literal["link_header", "next_url", "cursor", "offset", "page", "none"]
PageSize = Annotated[int, Meta(ge=1, le=100_000)]
INCREMENTAL_FORMATS = ("iso", "unix", "unix_ms")
"""`incremental.format`: these, or a strftime pattern (one with a `%`)."""
DEFAULT_EXCLUSIVE_LOOKBACK_S = 1.0
"""With `inclusive = false` and no `lookback_s`: the filter is `> stored cursor - 1 s`, so
the rows that share the stored cursor are read again (and count as unchanged)."""


class RestAuthSettings(Section, frozen=True, kw_only=True):
    """How requests authenticate; the keys that `kind` takes are in `AUTH_KEYS`."""

    kind: AuthKind
    token_file: Path | None = None
    token_env: str | None = None
    username: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    name: str | None = None
    location: Literal["header", "query"] | None = msgspec.field(default=None, name="in")
    value_file: Path | None = None
    value_env: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret_file: Path | None = None
    client_secret_env: str | None = None
    scope: str | None = None
    # A secret written here instead of its file or variable: refused, with a way to fix it.
    token: str | None = None
    password: str | None = None
    value: str | None = None
    client_secret: str | None = None


class AuthKeys(msgspec.Struct, frozen=True):
    required: tuple[str, ...]
    optional: tuple[str, ...]
    secret: str
    """Given as `{secret}_file` or `{secret}_env`, exactly one."""


AUTH_KEYS: dict[str, AuthKeys] = {
    "bearer": AuthKeys((), (), "token"),
    "basic": AuthKeys(("username",), (), "password"),
    "api_key": AuthKeys(("name",), ("in",), "value"),
    "oauth2_client_credentials": AuthKeys(("token_url", "client_id"), ("scope",), "client_secret"),
}
SECRETS = ("token", "password", "value", "client_secret")


class RestSourceSettings(Section, frozen=True, kw_only=True, tag_field="kind", tag="rest"):
    """A JSON API read over HTTP(S) (`kind = "rest"`)."""

    base_url: str
    """Each entity's `path` is joined to it."""
    auth: RestAuthSettings | None = None
    """None: requests carry no credentials."""
    timeout_s: Annotated[float, Meta(gt=0, le=limits.DAY_S)] = 30.0
    rate_limit_per_s: Annotated[float, Meta(gt=0, le=10_000)] | None = None
    """A token bucket across all of this source's requests; None: no limit."""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    timezone: str = "UTC"
    """What timestamps without an offset mean (an IANA zone such as Europe/Rome)."""
    max_retry_after_s: Annotated[float, Meta(ge=0, le=limits.DAY_S)] = 300.0
    """A 429 or 503 asking to wait longer than this ends the run (transient), saying so."""

    @property
    def kind(self) -> Literal["rest"]:
        return "rest"


class PaginationSettings(Section, frozen=True, kw_only=True):
    """How an entity's listing pages; the keys that `kind` takes are in `PAGINATION_KEYS`."""

    kind: PaginationKind
    path: str | None = None
    param: str | None = None
    limit_param: str | None = None
    limit: PageSize | None = None
    size_param: str | None = None
    size: PageSize | None = None
    total_path: str | None = None
    last_page_path: str | None = None


PAGINATION_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "link_header": ((), ()),
    "next_url": (("path",), ()),
    "cursor": (("path", "param"), ()),
    "offset": (("param", "limit_param", "limit"), ()),
    "page": (("param", "size_param", "size"), ("total_path", "last_page_path")),
    "none": ((), ()),
}
"""Each pagination kind's required keys, and its optional ones."""


class IncrementalSettings(Section, frozen=True, kw_only=True):
    """The API's filter on the cursor: an incremental run lists from the stored cursor."""

    param: str
    inclusive: bool = True
    """true: the filter means >=; false: it means > (see `DEFAULT_EXCLUSIVE_LOOKBACK_S`)."""
    format: str = "iso"


def rest_source_problems(where: str, source: RestSourceSettings) -> list[tuple[str, str]]:
    """The source's problems across its keys, one (key, reason) each."""
    found: list[tuple[str, str]] = []
    if not is_http_url(source.base_url):
        found.append((f"{where}.base_url", "must be an http:// or https:// URL"))
    if not known_zone(source.timezone):
        found.append((f"{where}.timezone", f"{source.timezone!r} is not a known IANA time zone"))
    if source.auth is not None:
        found += auth_problems(f"{where}.auth", source.auth)
    sets_authorization = source.auth is not None and source.auth.kind != "api_key"
    for header in source.headers:
        if header.lower() == "authorization" and sets_authorization:
            found.append((f"{where}.headers.{header}", "auth sets it; give one or the other"))
    return found


def auth_problems(where: str, auth: RestAuthSettings) -> list[tuple[str, str]]:
    keys = AUTH_KEYS[auth.kind]
    given = {k for k, v in msgspec.structs.asdict(auth).items() if v is not None and k != "kind"}
    given = {"in" if k == "location" else k for k in given}
    found: list[tuple[str, str]] = []
    for secret in SECRETS:
        if secret in given:
            how = f"{secret}_file or {secret}_env"
            found.append((f"{where}.{secret}", f"a secret is never written here: give {how}"))
    allowed = _auth_allows(keys)
    for key in sorted(given - allowed - set(SECRETS)):
        owner = next(k for k, v in AUTH_KEYS.items() if key in _auth_allows(v))
        found.append((f"{where}.{key}", f"not a key of {auth.kind} auth (it is {owner}'s)"))
    for key in keys.required:
        if key not in given:
            found.append((f"{where}.{key}", f"missing: {auth.kind} auth needs it"))
    file, env = f"{keys.secret}_file", f"{keys.secret}_env"
    if file in given and env in given:
        found.append((where, f"give one of {file} and {env}, not both"))
    elif file not in given and env not in given and keys.secret not in given:
        found.append((where, f"missing: give {file} or {env} (its {keys.secret})"))
    if auth.token_url is not None and not is_http_url(auth.token_url):
        found.append((f"{where}.token_url", "must be an http:// or https:// URL"))
    for key in (env for env in allowed if env.endswith("_env")):
        if key in given and not str(getattr(auth, key)).strip():
            found.append((f"{where}.{key}", "must name an environment variable"))
    return found


def _auth_allows(keys: AuthKeys) -> set[str]:
    return {*keys.required, *keys.optional, f"{keys.secret}_file", f"{keys.secret}_env"}


def pagination_problems(where: str, pagination: PaginationSettings) -> list[tuple[str, str]]:
    """Each key the kind needs and lacks, each key of another kind, one line each."""
    required, optional = PAGINATION_KEYS[pagination.kind]
    given = [
        k for k, v in msgspec.structs.asdict(pagination).items() if v is not None and k != "kind"
    ]
    found: list[tuple[str, str]] = []
    for key in given:
        if key not in required and key not in optional:
            owners = [k for k, (r, o) in PAGINATION_KEYS.items() if key in r or key in o]
            found.append(
                (f"{where}.{key}", f"not a key of {pagination.kind} pagination ({owners[0]}'s)")
            )
    for key in required:
        if key not in given:
            found.append((f"{where}.{key}", f"missing: {pagination.kind} pagination needs it"))
        elif key.endswith(("path", "param")) and not str(getattr(pagination, key)).strip():
            found.append((f"{where}.{key}", "must not be empty"))
    if pagination.total_path is not None and pagination.last_page_path is not None:
        found.append((where, "give at most one of total_path and last_page_path"))
    for key in ("path", "total_path", "last_page_path"):
        if (path := getattr(pagination, key)) and not dotted(path):
            found.append((f"{where}.{key}", f"{path!r} is not a dotted path (a.b.c)"))
    return found


def incremental_problems(
    where: str, incremental: IncrementalSettings, cursor_kind: str | None
) -> list[tuple[str, str]]:
    """`cursor_kind`: the cursor column's kind, None when the cursor is not a column."""
    found: list[tuple[str, str]] = []
    if not incremental.param.strip():
        found.append((f"{where}.param", "must name the API's filter on the cursor"))
    shape = incremental.format
    if shape not in INCREMENTAL_FORMATS and "%" not in shape:
        choices = ", ".join(INCREMENTAL_FORMATS)
        found.append((f"{where}.format", f"{shape!r}: choose {choices} or a strftime pattern"))
    elif shape != "iso" and cursor_kind in ("integer", "text"):
        found.append((f"{where}.format", f"writes a time; the cursor is {cursor_kind}"))
    if not incremental.inclusive and cursor_kind in ("integer", "text"):
        found.append(
            (
                f"{where}.inclusive",
                f"false needs a timestamp or date cursor (a lookback re-reads the rows at "
                f"the stored cursor); with a {cursor_kind} cursor they would be lost",
            )
        )
    return found


def dotted(path: str) -> bool:
    """A dotted path inside a JSON value: names between dots, none empty."""
    return all(part.strip() for part in path.split("."))


def known_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
