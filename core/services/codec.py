"""Turning a page of raw source records into replica rows: validate, extract, hash.

One codec per entity, shared by the sync engine's writer and by `verify`, so a
row is judged and hashed the same way wherever it is compared. A page is
validated in one pydantic call (fast); only when that fails is each record
validated alone, so the bad ones can be quarantined with their reasons.
"""

from __future__ import annotations

import hashlib
import json
import marshal
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Annotated, Any

from pydantic import ConfigDict, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from core.services.entities import EntitySpec


@dataclass(frozen=True)
class Row:
    key: str
    values: tuple[Any, ...]
    """The replica columns, in `EntitySpec.columns` order."""
    children: list[tuple[Any, ...]]
    digest: bytes
    cursor: str


@dataclass
class DecodedPage:
    rows: list[Row] = field(default_factory=list)
    rejected: list[tuple[str | None, str, str]] = field(default_factory=list)
    """(key if any, raw payload as JSON, reason) per invalid record."""
    keys_seen: list[str] = field(default_factory=list)
    """Every key the source listed, valid or not: a malformed record still exists."""


def row_digest(values: tuple[Any, ...], children: list[tuple[Any, ...]]) -> bytes:
    """A stable 8-byte fingerprint of a row and its children (marshal is deterministic
    for these plain values; a Python upgrade that changed it would only rewrite rows once)."""
    return hashlib.blake2b(marshal.dumps((values, children)), digest_size=8).digest()


def _reason(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "record"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


_typed_dict: Any = TypedDict
"""A TypedDict built at run time from a model's fields: validating to plain dicts is about
three times faster than building model instances, with the same constraints."""


class RecordCodec:
    def __init__(self, spec: EntitySpec) -> None:
        self.spec = spec
        fields = {
            name: Annotated[info.annotation, info] for name, info in spec.model.model_fields.items()
        }
        record_type: Any = _typed_dict(f"{spec.model.__name__}Record", fields)
        record_type.__pydantic_config__ = ConfigDict(extra="ignore", str_strip_whitespace=True)
        self._one: TypeAdapter[Any] = TypeAdapter(record_type)
        self._page: TypeAdapter[Any] = TypeAdapter(list[record_type])
        self._values = itemgetter(*spec.columns)
        self._key = spec.key
        self._cursor = spec.cursor
        child = spec.child
        self._child_field = child.record_field if child else None
        self._child_columns = child.columns if child else ()

    def decode(self, records: list[Any]) -> DecodedPage:
        page = DecodedPage()
        key = self._key
        for raw in records:
            raw_key = raw.get(key) if isinstance(raw, dict) else None
            if raw_key is not None:
                page.keys_seen.append(str(raw_key))
        try:
            valid = self._page.validate_python(records)
        except ValidationError:
            valid = []
            for raw in records:
                try:
                    valid.append(self._one.validate_python(raw))
                except ValidationError as exc:
                    raw_key = raw.get(key) if isinstance(raw, dict) else None
                    payload = json.dumps(raw, default=str, sort_keys=True)
                    page.rejected.append(
                        (None if raw_key is None else str(raw_key), payload, _reason(exc))
                    )
        values_of = self._values
        cursor = self._cursor
        child_field = self._child_field
        child_columns = self._child_columns
        for record in valid:
            values = values_of(record)
            children: list[tuple[Any, ...]] = []
            if child_field is not None:
                parent = record[key]
                children = [
                    (parent, *(getattr(item, c) for c in child_columns))
                    for item in record[child_field]
                ]
            page.rows.append(
                Row(values[0], values, children, row_digest(values, children), record[cursor])
            )
        return page


_CODECS: dict[str, RecordCodec] = {}


def codec_for(spec: EntitySpec) -> RecordCodec:
    """Codecs are built once per entity: building the pydantic validators is the slow part."""
    codec = _CODECS.get(spec.name)
    if codec is None or codec.spec is not spec:
        codec = _CODECS[spec.name] = RecordCodec(spec)
    return codec
