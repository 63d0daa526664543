"""`RestCheck`: what `RestSource.check(entity)` found about one entity's mapping, for
`syncdeck sources check`, and `run_check`, which finds it from the API's first two pages.

Steps: the first page answers and holds a list at `records`; every mapped path (the
columns', the child array's and the child columns') exists in its records (a path absent
from every record is a problem, from some a note: read as null there); the key is present
and unique; the cursor's values read as its kind and, when `sort` is given, ascend; a second
page is reachable when the first names one. A failed step is one line in `problems`; the
others still run where they can. `run_check` never raises (but for cancellation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

import msgspec

from core.sources.base import Page
from core.sources.rest.failures import Voice
from core.sources.rest.mapping import RestEntity
from core.sources.rest.pagination import POSITIONAL
from core.sources.rest.records import MISSING, at, key_text

SAMPLES = 3
_FRACTION = re.compile(r"\.(\d{7,})")

Fetch = Callable[[str | None], Awaitable[tuple[Page, list[Any]]]]


class RestCheck(msgspec.Struct, kw_only=True):
    entity: str
    source: str
    problems: list[str] = msgspec.field(default_factory=list)
    """One line per step that failed."""
    notes: list[str] = msgspec.field(default_factory=list)
    """What is worth knowing but not wrong (optional fields, the cursor's hold)."""
    samples: list[dict[str, Any]] = msgspec.field(default_factory=list)
    """Up to three records of the first page, as the API gave them (exact numbers)."""
    rows: list[dict[str, Any]] = msgspec.field(default_factory=list)
    """The same records mapped: replica column -> raw value."""
    cursors: list[Any] = msgspec.field(default_factory=list)
    """The first page's raw cursor values, in listing order."""
    records: int | None = None
    """How many records the first page held (None: it failed)."""
    second_page: bool | None = None
    """Whether a second page was read (None: the first named none, or it failed)."""


async def run_check(entity: RestEntity, source: str, voice: Voice, fetch: Fetch) -> RestCheck:
    found = RestCheck(entity=entity.name, source=source)
    try:
        page, records = await fetch(None)
    except Exception as exc:  # every failure is a problem, whatever it is
        found.problems.append(_failure(voice, entity, "first page", exc))
        return found
    found.records = len(records)
    found.samples = [r for r in records if isinstance(r, dict)][:SAMPLES]
    found.rows = [dict(zip(page.columns or (), row, strict=True)) for row in page.rows or []][
        :SAMPLES
    ]
    if not records:
        found.notes.append("the first page is empty: nothing to check the mapping against")
    else:
        _paths(entity, records, found)
        _keys(entity, records, found)
        _cursor(entity, records, found)
    if not entity.sort:
        found.notes.append(
            "no sort given: a listing's cursor moves only when the whole listing completes"
        )
    if entity.pagination.kind in POSITIONAL:
        found.notes.append(
            f"pagination by position ({entity.pagination.kind}) shifts when rows are deleted "
            "while it reads: a row missing from one full pass is only a delete candidate"
        )
    if page.next is not None:
        try:
            _, more = await fetch(page.next)
        except Exception as exc:
            found.problems.append(_failure(voice, entity, "second page", exc))
        else:
            found.second_page = True
            found.notes.append(f"a second page answered, with {len(more)} new records")
    return found


def _failure(voice: Voice, entity: RestEntity, what: str, exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if text.startswith('rest source "'):
        return voice.redact(text)
    return voice.line(entity.name, what, f"{type(exc).__name__}: {text}")


def _absent(records: list[Any], path: str) -> int:
    return sum(1 for r in records if at(r, path) is MISSING)


def _report(found: RestCheck, where: str, paths: list[tuple[str, str]], items: list[Any]) -> None:
    never = [f"{n} ({p})" for n, p in paths if _absent(items, p) == len(items)]
    some = [f"{n} ({p})" for n, p in paths if 0 < _absent(items, p) < len(items)]
    if never:
        found.problems.append(f"{where}: not found in any of {len(items)}: {', '.join(never)}")
    if some:
        found.notes.append(f"{where}: missing from some (read as null): {', '.join(some)}")


def _paths(entity: RestEntity, records: list[Any], found: RestCheck) -> None:
    _report(found, "columns", [(c.name, c.path) for c in entity.columns], records)
    child = entity.child
    if child is None:
        return
    arrays = [at(r, child.field) for r in records]
    if all(a is MISSING for a in arrays):
        found.problems.append(f"child array {child.field!r} not found in any record")
        return
    odd = sum(1 for a in arrays if a is not MISSING and a is not None and not isinstance(a, list))
    if odd:
        found.problems.append(f"child array {child.field!r} is not a list in {odd} records")
    items = [item for a in arrays if isinstance(a, list) for item in a]
    if not items:
        found.notes.append(f"child array {child.field!r} is empty in every sample record")
        return
    paths = [(c.name, c.path) for c in child.columns if c.name != child.parent]
    _report(found, "child columns", paths, items)


def _keys(entity: RestEntity, records: list[Any], found: RestCheck) -> None:
    keys = [key_text(entity, r) for r in records]
    keyless = sum(1 for k in keys if None in json.loads(k))
    if keyless:
        found.problems.append(f"{keyless} records without a key ({', '.join(entity.key)})")
    if len(set(keys)) < len(keys):
        found.problems.append(f"the key ({', '.join(entity.key)}) repeats within one page")


def _cursor(entity: RestEntity, records: list[Any], found: RestCheck) -> None:
    path = next(c.path for c in entity.columns if c.name == entity.cursor)
    found.cursors = [at(r, path) for r in records]
    values = [v for v in found.cursors if v is not MISSING and v is not None]
    if len(values) < len(found.cursors):
        found.problems.append(
            f"{len(found.cursors) - len(values)} records without a cursor ({entity.cursor}): "
            "an incremental listing never brings them"
        )
    parsed = [_as_kind(v, entity.cursor_kind) for v in values]
    bad = [v for v, p in zip(values, parsed, strict=True) if p is None]
    if bad:
        found.problems.append(
            f"cursor {entity.cursor} values that are not {entity.cursor_kind}: "
            + ", ".join(repr(v)[:40] for v in bad[:3])
        )
        return
    if entity.sort:
        for (a, pa), (b, pb) in pairwise(zip(values, parsed, strict=True)):
            if pb < pa:
                found.problems.append(
                    f"sort is given but the cursor descends: {a!r} before {b!r}; "
                    "the sort params do not list in ascending cursor order"
                )
                return


def _as_kind(raw: Any, kind: str) -> Any:
    """A cursor value read as its kind, comparable with its peers; None if it is not one."""
    if kind == "integer":
        if isinstance(raw, bool):
            return None
        try:
            whole = int(raw)
        except (TypeError, ValueError, ArithmeticError):
            return None
        return whole if whole == raw or isinstance(raw, str) else None
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if kind == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    if kind == "timestamp":
        try:
            moment = datetime.fromisoformat(_FRACTION.sub(lambda m: "." + m[1][:6], text))
        except ValueError:
            return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return raw
