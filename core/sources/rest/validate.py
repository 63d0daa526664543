"""What a REST source cannot work with, found before any request: `problems` lists each
problem of a source's spec and its entities' mappings as one phrase (naming the field, never
a secret's value). The configuration should catch these first; the source refuses to be
built with any (SourceError). Pure; nothing here raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Formatter
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from core.sources.rest.mapping import RestAuth, RestEntity, RestSourceSpec
from core.sources.rest.since import format_problem

_NEEDS: dict[str, tuple[str, ...]] = {
    "bearer": ("token",),
    "basic": ("username", "password"),
    "api_key": ("name", "value"),
    "oauth2_client_credentials": ("token_url", "client_id", "client_secret"),
}


def problems(spec: RestSourceSpec, entities: Mapping[str, RestEntity]) -> list[str]:
    found = [*_spec_problems(spec), *_auth_problems(spec.auth)]
    for name, entity in entities.items():
        found.extend(f'entity "{name}": {p}' for p in entity_problems(entity))
    return found


def _http_url(url: str | None) -> bool:
    try:
        parsed = httpx.URL(url or "")
    except (httpx.InvalidURL, TypeError):
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)


def _spec_problems(spec: RestSourceSpec) -> list[str]:
    found: list[str] = []
    if not _http_url(spec.base_url):
        found.append(f"base_url {spec.base_url!r} is not an http:// or https:// URL with a host")
    if not spec.timeout_s > 0:
        found.append("timeout_s must be > 0")
    if spec.retries < 0:
        found.append("retries must be >= 0")
    if not spec.backoff_s > 0:
        found.append("backoff_s must be > 0")
    if not spec.max_retry_after_s >= 0:
        found.append("max_retry_after_s must be >= 0")
    if spec.rate_limit_per_s is not None and not spec.rate_limit_per_s > 0:
        found.append("rate_limit_per_s must be > 0")
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        found.append(f"timezone {spec.timezone!r} is not a time zone")
    for header, value in spec.headers.items():
        if not _header_safe(header) or not _header_safe(value):
            found.append(f"header {header!r} may hold printable ASCII characters only")
    return found


def _header_safe(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _auth_problems(auth: RestAuth) -> list[str]:
    missing = [f for f in _NEEDS.get(auth.kind, ()) if not getattr(auth, f)]
    found = [f"auth {auth.kind} needs {', '.join(missing)}"] if missing else []
    secret = auth.token if auth.kind == "bearer" else None
    if auth.kind == "api_key" and auth.location == "header":
        secret = auth.value
    if secret and not _header_safe(secret):
        found.append(f"auth {auth.kind}: the secret may hold printable ASCII characters only")
    if (
        auth.kind == "oauth2_client_credentials"
        and auth.token_url
        and not _http_url(auth.token_url)
    ):
        found.append("auth token_url is not an http:// or https:// URL with a host")
    return found


def entity_problems(entity: RestEntity) -> list[str]:
    names = [c.name for c in entity.columns]
    found: list[str] = []
    if not names:
        return ["no columns"]
    if not entity.key:
        found.append("no key")
    unknown = [n for n in (*entity.key, entity.cursor) if n not in names]
    if unknown:
        found.append(f"{', '.join(unknown)} not among its columns")
    if entity.incremental is not None:
        problem = format_problem(entity.incremental.format)
        if problem:
            found.append(problem)
    found.extend(_pagination_problems(entity))
    if entity.item_path is not None:
        fields = {f for _, f, _, _ in Formatter().parse(entity.item_path) if f is not None}
        if not fields or not fields <= set(entity.key):
            found.append("item_path must name the key columns as {placeholders}, and only them")
    child = entity.child
    if child is not None:
        child_names = [c.name for c in child.columns]
        if len(entity.key) != 1:
            found.append("a parent with a composite key cannot have children")
        if child.parent not in child_names:
            found.append(f"its child's parent column {child.parent!r} is not among its columns")
        if not child.key or any(k not in child_names for k in child.key):
            found.append("its child's key must be among the child's columns")
    return found


def _pagination_problems(entity: RestEntity) -> list[str]:
    p = entity.pagination
    kind = p.kind
    wanted: list[str] = []
    if kind in ("next_url", "cursor") and not p.path:
        wanted.append("path")
    if kind in ("cursor", "offset", "page") and not p.param:
        wanted.append("param")
    found = [f"pagination {kind} needs {', '.join(wanted)}"] if wanted else []
    if kind == "offset" and (p.limit is None or p.limit < 2):
        found.append("pagination offset needs a limit of at least 2 (pages overlap by a row)")
    if kind == "page" and (p.size is None or p.size < 1):
        found.append("pagination page needs a size of at least 1")
    if kind not in ("offset",) and p.limit is not None and p.limit < 1:
        found.append("pagination limit must be >= 1")
    return found
