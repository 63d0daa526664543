"""The entities this configuration syncs: the built-in four unless `[entities] builtin =
false`, and the operator's own `[entities.NAME]`, each as a replica spec and, for a sql
source, what to read.

A configured entity's replica table holds its declared columns (the cursor last) after
`sync_key`, its key as text. Its `mapping_version` is a fingerprint of everything that
shapes its rows, so a changed mapping makes the next auto run a full one without anybody
bumping a number. The settings are already validated (`core.config.entities`): nothing
here raises for them.
"""

from __future__ import annotations

import hashlib

import msgspec

from core.config import Settings
from core.config.entities import ChildSettings, EntitySettings, configured_entities
from core.entities import ENTITIES, MINUTE, SYNC_KEY, SYNC_PARENT, ChildTable, EntitySpec
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
            key_columns=_keys(entity.child.key),
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
        lookback_s=entity.lookback_s,
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
        key=_keys(child.key),
    )


def _keys(key: str | list[str]) -> tuple[str, ...]:
    return (key,) if isinstance(key, str) else tuple(key)


def _fingerprint(spec: EntitySpec, entity: EntitySettings) -> int:
    """A positive 31-bit number that changes with anything that shapes the replica's rows
    (0 means "no full pass yet" in `sync_state`)."""
    reading = msgspec.structs.replace(entity, lookback_s=0.0)  # how far back: no new shape
    shape = msgspec.json.encode(
        [DIGEST_VERSION, spec.fields, spec.key_columns, spec.cursor, spec.child, spec.zone, reading]
    )
    number = int.from_bytes(hashlib.blake2b(shape, digest_size=4).digest(), "big") >> 1
    return number or 1
