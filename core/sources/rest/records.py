"""Records out of a REST body: exact JSON, dotted paths, and a page's rows and child rows.

`loads` parses JSON so that every number with a fraction or an exponent becomes a
`Decimal` (`0.1` stays `Decimal("0.1")`, `99999999999999999999.99` stays whole), never a
float; integers stay `int`, and `NaN`/`Infinity` become non-finite Decimals that the
engine rejects with a reason. A decimal sent as a string stays a string. It raises
ValueError for a body that is not JSON.

`at` follows a dotted path (`"contact.email"`, `"items.0.id"` into a list); a missing
step gives `MISSING`, and `value` turns that into None (the engine rejects a record whose
key is missing, with the reason). `rows` builds a page's rows in `entity.columns` order and,
for an entity with a child, each record's child rows in `child.columns` order with the
child's `parent` column filled with the parent's key value. Nothing here does I/O.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Final

from core.sources.rest.mapping import RestChild, RestEntity


class _Missing:
    """A path that leads nowhere (distinct from a JSON null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def loads(content: bytes | str) -> Any:
    """The JSON body with exact numbers (see the module's docstring); ValueError if not JSON."""
    return json.loads(content, parse_float=Decimal, parse_constant=Decimal)


def at(document: Any, path: str) -> Any:
    """The value at dotted `path` in `document` ("" is the document itself), or MISSING."""
    if not path:
        return document
    here = document
    for step in path.split("."):
        if isinstance(here, dict):
            if step not in here:
                return MISSING
            here = here[step]
        elif isinstance(here, list) and step.isdigit() and int(step) < len(here):
            here = here[int(step)]
        else:
            return MISSING
    return here


def value(document: Any, path: str) -> Any:
    """`at`, with MISSING as None."""
    found = at(document, path)
    return None if found is MISSING else found


def records_of(body: Any, path: str) -> list[Any]:
    """The list of records at `path` in a body; ValueError (one line) when it is not a list."""
    found = at(body, path)
    if isinstance(found, list):
        return found
    where = f"at {path!r}" if path else "as the body"
    got = "nothing" if found is MISSING else type(found).__name__
    raise ValueError(f"expected a list of records {where}, found {got}")


def key_text(entity: RestEntity, record: Any) -> str:
    """A record's key as canonical text (for comparing records across pages)."""
    names = [c.name for c in entity.columns]
    paths = {c.name: c.path for c in entity.columns}
    parts = [value(record, paths[k]) if k in names else None for k in entity.key]
    return json.dumps(parts, separators=(",", ":"), sort_keys=True, default=str)


def rows(
    entity: RestEntity, records: list[Any]
) -> tuple[list[tuple[Any, ...]], list[list[tuple[Any, ...]]] | None]:
    """The records as rows in `entity.columns` order, and their child rows (None when the
    entity has no child). A record that is not an object gives a row of None values."""
    paths = [c.path for c in entity.columns]
    out = [tuple(value(r, p) for p in paths) for r in records]
    child = entity.child
    if child is None:
        return out, None
    key_at = [c.name for c in entity.columns].index(entity.key[0])
    return out, [_child_rows(child, r, row[key_at]) for r, row in zip(records, out, strict=True)]


def _child_rows(child: RestChild, record: Any, parent_key: Any) -> list[tuple[Any, ...]]:
    """The child rows in `record`'s array. A missing or null array means no children (APIs
    often omit empty arrays). Any other value that is not a list gives one row of None
    values: the engine then rejects the parent record, naming the child's key column,
    rather than store it without children it may have. An element that is not an object
    gives a row of None values but its parent column, rejected the same way."""
    found = at(record, child.field)
    if found is MISSING or found is None:
        return []
    if not isinstance(found, list):
        return [tuple(None for _ in child.columns)]
    return [
        tuple(parent_key if c.name == child.parent else value(item, c.path) for c in child.columns)
        for item in found
    ]
