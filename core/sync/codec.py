"""Turning a page of raw source records into replica rows: validate, extract, hash.

One codec per entity, shared by the sync engine and by `verify`, so a row is
judged and hashed the same way wherever it is compared; the replica receives
the result (`core.replica.base.Batch`) and never sees a raw record. A page is
validated in one pydantic call (fast); only when that fails is each record
validated alone, so the bad ones can be quarantined with their reasons.
Invalid records never raise: they come back in `Batch.rejected`.
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from core.entities import EntitySpec
from core.replica.base import Batch
from core.sources.base import Page
from core.sync.digest import digests, row_digest
from core.sync.kinds import KindCodec
from core.sync.records import MODELS


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
    def __init__(self, spec: EntitySpec, model: type[BaseModel] | None = None) -> None:
        """`model` validates the records; by default the built-in model of `spec.name`."""
        self.spec = spec
        model = model or MODELS[spec.name]
        fields = {
            name: Annotated[info.annotation, info] for name, info in model.model_fields.items()
        }
        record_type: Any = _typed_dict(f"{model.__name__}Record", fields)
        record_type.__pydantic_config__ = ConfigDict(extra="ignore")
        self._one: TypeAdapter[Any] = TypeAdapter(record_type)
        self._page: TypeAdapter[Any] = TypeAdapter(list[record_type])
        self._values = itemgetter(*spec.columns)
        # Rows of column values (spec.columns order) validate as tuples: no dicts at all.
        row_type: Any = tuple[tuple(fields[c] for c in spec.columns)]  # type: ignore[misc]
        self._rows: TypeAdapter[Any] = TypeAdapter(list[row_type])
        self._row: TypeAdapter[Any] = TypeAdapter(row_type)
        self._cursor_index = spec.columns.index(spec.cursor)
        self._key = spec.key
        self._cursor = spec.cursor
        child = spec.child
        self._child_field = child.record_field if child else None
        self._child_columns = child.columns if child else ()

    def decode_page(self, page: Page | list[dict[str, Any]], want_seen: bool = False) -> Batch:
        """A page in whichever form its source gave it (records alone are a list of dicts)."""
        if isinstance(page, list):
            return self.decode(page, want_seen)
        if page.rows is not None and page.columns == self.spec.columns and not self._child_field:
            return self.decode_rows(page.rows, want_seen)
        return self.decode(page.records, want_seen)

    def decode_rows(self, rows: list[tuple[Any, ...]], want_seen: bool = False) -> Batch:
        """Rows of values in `spec.columns` order (key first, cursor last)."""
        page = Batch(fetched=len(rows))
        if want_seen:
            page.keys_seen = [str(row[0]) for row in rows if row and row[0] is not None]
        try:
            values: list[tuple[Any, ...]] = self._rows.validate_python(rows)
        except ValidationError:
            values = []
            for row in rows:
                try:
                    values.append(self._row.validate_python(row))
                except ValidationError as exc:
                    raw = dict(zip(self.spec.columns, row, strict=False))
                    key = raw.get(self._key)
                    payload = json.dumps(raw, default=str, sort_keys=True)
                    page.rejected.append((None if key is None else str(key), payload, _reason(exc)))
        if not values:
            return page
        page.values = values
        page.keys = [v[0] for v in values]
        page.top_cursor = max(map(itemgetter(self._cursor_index), values))
        page.children = [[]] * len(values)
        page.digests = digests(values)
        return page

    def decode(self, records: list[Any], want_seen: bool = False) -> Batch:
        page = Batch(fetched=len(records))
        key = self._key
        if want_seen:
            page.keys_seen = [
                str(k)
                for k in (r.get(key) if isinstance(r, dict) else None for r in records)
                if k is not None
            ]
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
        if not valid:
            return page
        # Column-wise, with C-level loops where possible: this is the hot path of a sync.
        values = list(map(self._values, valid))
        page.values = values
        page.keys = [v[0] for v in values]
        page.top_cursor = max(map(itemgetter(self._cursor), valid))
        if self._child_field is None:
            page.children = [[]] * len(values)
            page.digests = digests(values)
        else:
            child_field, child_columns = self._child_field, self._child_columns
            page.children = [
                [(v[0], *(getattr(item, c) for c in child_columns)) for item in record[child_field]]
                for v, record in zip(values, valid, strict=True)
            ]
            page.digests = list(map(row_digest, values, page.children))
        return page


_CODECS: dict[str, RecordCodec | KindCodec] = {}


def codec_for(spec: EntitySpec) -> RecordCodec | KindCodec:
    """A built-in entity's records are validated by its model; a configured one's values by
    their columns' kinds (`core.sync.kinds`). Codecs are built once per entity: building
    the pydantic validators is the slow part."""
    codec = _CODECS.get(spec.name)
    if codec is None or codec.spec is not spec:
        codec = RecordCodec(spec) if spec.source is None else KindCodec(spec)
        _CODECS[spec.name] = codec
    return codec
