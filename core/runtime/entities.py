"""The entities this configuration syncs: the built-in four unless `[entities] builtin =
false`, and the operator's own `[entities.NAME]`, each as a replica spec and what its
source reads (`sql_mapping`, `rest_mapping`).

A configured entity's replica table holds its declared columns (the cursor last) after
`sync_key`, its key as text; a child table its declared columns after `sync_parent`, the
parent's `sync_key` (a rest child's `parent` column is one of them, which the rest source
fills with the parent's key). Its `mapping_version` is a fingerprint of everything that
shapes its rows, so a changed mapping makes the next auto run a full one without anybody
bumping a number. The settings are already validated (`core.config.entity_checks`):
nothing here raises for them.
"""

from __future__ import annotations

import hashlib

import msgspec

from core.config import Settings
from core.config.entities import (
    REST_ONLY,
    ChildSettings,
    EntitySettings,
    Param,
    configured_entities,
    keys_of,
    lookback_s,
)
from core.config.rest import PaginationSettings
from core.entities import ENTITIES, MINUTE, SYNC_KEY, SYNC_PARENT, ChildTable, EntitySpec
from core.sources.rest.mapping import (
    Incremental,
    Pagination,
    RestChild,
    RestColumn,
    RestEntity,
)
from core.sources.sql.mapping import SqlChild, SqlColumn, SqlEntity
from core.sync.digest import DIGEST_VERSION


def entity_specs(settings: Settings) -> dict[str, EntitySpec]:
    """Every entity this configuration syncs, the built-in ones first."""
    keep_builtin, own = configured_entities(settings.entities)
    specs = dict(ENTITIES) if keep_builtin else {}
    for name, entity in own.items():
        specs[name] = configured_spec(name, entity, settings)
    return specs


def configured_spec(name: str, entity: EntitySettings, settings: Settings) -> EntitySpec:
    assert entity.cursor is not None and entity.source is not None  # validated
    cursor = entity.cursor
    fields = (
        (SYNC_KEY, "text"),
        *((column, kind) for column, kind in entity.columns.items() if column != cursor),
        (cursor, entity.columns[cursor]),
    )
    child = None
    if entity.child is not None:
        child = ChildTable(
            table=entity.child.name,
            record_field="",
            parent_column=SYNC_PARENT,
            fields=tuple(entity.child.columns.items()),
            key_columns=keys_of(entity.child.key),
        )
    source = settings.sources[entity.source]
    spec = EntitySpec(
        name,
        key=SYNC_KEY,
        fields=fields,
        default_priority=1,
        default_interval_s=30 * MINUTE,
        cursor=cursor,
        child=child,
        source=entity.source,
        key_columns=entity.key_columns,
        lookback_s=lookback_s(entity, source),
        zone=source.timezone,
    )
    return msgspec.structs.replace(spec, mapping_version=_fingerprint(spec, entity))


def sql_mapping(spec: EntitySpec, entity: EntitySettings) -> SqlEntity:
    """What the sql source reads for `spec`: its columns in the spec's order (without
    `sync_key`), each the source expression `map` gives it, or the column of its name."""
    child = entity.child
    return SqlEntity(
        name=spec.name,
        table=entity.table,
        query=entity.query,
        columns=tuple(SqlColumn(c, entity.map.get(c, c)) for c in spec.columns[1:]),
        key=spec.key_columns,
        cursor=spec.cursor,
        cursor_kind=spec.kinds[spec.cursor],  # type: ignore[arg-type]  # validated
        horizon=entity.horizon,
        child=None if child is None else _sql_child(child),
    )


def _sql_child(child: ChildSettings) -> SqlChild:
    return SqlChild(
        table=child.table,
        query=child.query,
        parent=child.map.get(child.parent, child.parent),
        columns=tuple(SqlColumn(c, child.map.get(c, c)) for c in child.columns),
        key=keys_of(child.key),
    )


def rest_mapping(spec: EntitySpec, entity: EntitySettings) -> RestEntity:
    """What the rest source reads for `spec`: its columns in the spec's order (without
    `sync_key`), each at the dotted path `map` gives it, or at its own name."""
    assert entity.path is not None  # validated, as every rest key below
    child = entity.child
    incremental = entity.incremental
    return RestEntity(
        name=spec.name,
        path=entity.path,
        records=entity.records or "",
        columns=tuple(RestColumn(c, entity.map.get(c, c)) for c in spec.columns[1:]),
        key=spec.key_columns,
        cursor=spec.cursor,
        cursor_kind=spec.kinds[spec.cursor],  # type: ignore[arg-type]  # validated
        params=_texts(entity.params),
        sort=_texts(entity.sort),
        pagination=_pagination(entity.pagination),
        incremental=None
        if incremental is None
        else Incremental(
            param=incremental.param, inclusive=incremental.inclusive, format=incremental.format
        ),
        item_path=entity.item_path,
        child=None if child is None else _rest_child(child),
    )


def _pagination(pagination: PaginationSettings | None) -> Pagination:
    """The same keys, by the same names (None: `kind = "none"`, which validation requires
    to be written out)."""
    if pagination is None:
        return Pagination()
    return msgspec.convert(msgspec.structs.asdict(pagination), Pagination)


def _rest_child(child: ChildSettings) -> RestChild:
    assert child.field is not None  # validated
    return RestChild(
        field=child.field,
        parent=child.parent,
        columns=tuple(RestColumn(c, child.map.get(c, c)) for c in child.columns),
        key=keys_of(child.key),
    )


def _texts(params: dict[str, Param] | None) -> dict[str, str]:
    """Query parameters as they are sent: text, true and false in lower case."""
    found = {}
    for name, value in (params or {}).items():
        found[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return found


def _fingerprint(spec: EntitySpec, entity: EntitySettings) -> int:
    """A positive 31-bit number that changes with anything that shapes the replica's rows
    (0 means "no full pass yet" in `sync_state`)."""
    reading = msgspec.to_builtins(msgspec.structs.replace(entity, lookback_s=0.0))
    # How far back reads no new shape; the rest keys a sql entity leaves out are left out
    # here too, so that its fingerprint is what it was before rest sources existed.
    for key in REST_ONLY:
        if reading[key] is None:
            del reading[key]
    if reading["child"] is not None and reading["child"]["field"] is None:
        del reading["child"]["field"]
    shape = msgspec.json.encode(
        [DIGEST_VERSION, spec.fields, spec.key_columns, spec.cursor, spec.child, spec.zone, reading]
    )
    number = int.from_bytes(hashlib.blake2b(shape, digest_size=4).digest(), "big") >> 1
    return number or 1
