"""What spans the keys and tables of `[sources]` and `[entities]`, checked once the tables
are valid on their own (`core.config.entities`, `core.config.rest`).

`entity_problems` names every problem as a (key, reason) line, one per mistake:
a source that is not declared, a key or cursor that is not a column, a name that is not
an SQL identifier or that collides with syncdeck's own tables, a key that belongs to the
other kind of source (`table` for a rest entity, `pagination` for a sql one), a rest
entity's pagination, filter or `item_path` that cannot work. Configuration loading raises
them together as one `ConfigError` (exit 2), before anything is opened. Nothing here
raises.
"""

from __future__ import annotations

import re
import string

from core.config.entities import (
    CURSOR_KINDS,
    RESERVED_COLUMNS,
    RESERVED_TABLES,
    REST_ONLY,
    SQL_ONLY,
    TIME_CURSOR_KINDS,
    ChildSettings,
    EntitySettings,
    ErpSourceSettings,
    Kind,
    configured_entities,
    keys_of,
)
from core.config.rest import (
    RestSourceSettings,
    dotted,
    incremental_problems,
    pagination_problems,
    rest_source_problems,
)

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
"""A table's or column's name: lower case, so that no dialect needs it quoted, and at most
PostgreSQL's 63 bytes."""

Problems = list[tuple[str, str]]


def entity_problems(
    sources: dict[str, ErpSourceSettings],
    entities: dict[str, EntitySettings | bool],
    builtin_names: frozenset[str],
    broken: frozenset[str] = frozenset(),
) -> Problems:
    """Every problem across keys and tables, as (key, reason). `broken`: sources declared
    but invalid on their own (already reported), which their entities may name."""
    found: Problems = []
    for name, value in entities.items():
        if name == "builtin":
            if not isinstance(value, bool):
                found.append(("entities.builtin", "expected true or false"))
        elif not isinstance(value, EntitySettings):
            found.append((f"entities.{name}", "expected a table describing the entity"))
    keep_builtin, own = configured_entities(entities)
    taken = set(builtin_names) if keep_builtin else set()
    for name, source in sources.items():
        if not IDENTIFIER.match(name):
            found.append((f"sources.{name}", "not a valid name (a-z, 0-9 and _)"))
        if isinstance(source, RestSourceSettings):
            found += rest_source_problems(f"sources.{name}", source)
    for name, entity in own.items():
        found += _entity(name, entity, sources, taken, broken)
    return found


def _entity(
    name: str,
    entity: EntitySettings,
    sources: dict[str, ErpSourceSettings],
    taken: set[str],
    broken: frozenset[str],
) -> Problems:
    where = f"entities.{name}"
    found = _table_name(where, name, taken)
    source = sources.get(entity.source or "")
    if entity.source is None:
        found.append((f"{where}.source", "missing: name the [sources.NAME] it is read from"))
    elif source is None and entity.source not in broken:
        declared = ", ".join(sorted(sources)) or "none"
        found.append((f"{where}.source", f"no source {entity.source!r} (declared: {declared})"))
    # An undeclared source's kind is guessed from the keys, so that they are checked too.
    rest = source.kind == "rest" if source is not None else entity.path is not None
    found += _rest_entity(where, entity) if rest else _sql_entity(where, entity)
    found += _columns(where, entity.columns, entity.map, entity.key_columns)
    if entity.cursor is None:
        found.append((f"{where}.cursor", "missing: name the column that orders changes"))
    elif entity.cursor not in entity.columns:
        found.append((f"{where}.cursor", f"{entity.cursor!r} is not among the columns"))
    else:
        kind = entity.columns[entity.cursor]
        if kind not in CURSOR_KINDS:
            found.append((f"{where}.cursor", f"a {kind} column cannot order changes"))
        elif entity.lookback_s and kind not in TIME_CURSOR_KINDS:
            found.append((f"{where}.lookback_s", f"needs a timestamp or date cursor, not {kind}"))
    url = getattr(source, "url", None)
    not_postgres = rest or (url is not None and not url.startswith("postgres"))
    if entity.horizon == "xmin" and source is not None and not_postgres:
        found.append((f"{where}.horizon", "xmin needs a PostgreSQL source"))
    if rest:
        found += _rest_reading(where, entity)
    child = entity.child
    if child is not None:
        found += _child(f"{where}.child", child, entity, taken, rest)
    return found


def _sql_entity(where: str, entity: EntitySettings) -> Problems:
    found = [
        (f"{where}.{key}", "only an entity of a rest source takes it (this one's is sql)")
        for key in REST_ONLY
        if getattr(entity, key) is not None
    ]
    return found + _relation(where, entity.table, entity.query)


def _rest_entity(where: str, entity: EntitySettings) -> Problems:
    found = [
        (f"{where}.{key}", "not for an entity of a rest source (it is read from `path`)")
        for key in SQL_ONLY
        if getattr(entity, key) is not None
    ]
    if entity.path is None or not entity.path.strip():
        found.append((f"{where}.path", "missing: the listing's path, joined to base_url"))
    if entity.records and not dotted(entity.records):
        found.append((f"{where}.records", f"{entity.records!r} is not a dotted path (a.b.c)"))
    found += _paths(f"{where}.map", entity.map)
    if entity.pagination is None:
        found.append(
            (f"{where}.pagination", 'missing: how the API pages ({ kind = "none" } if it does not)')
        )
    else:
        found += pagination_problems(f"{where}.pagination", entity.pagination)
    if entity.item_path is not None:
        found += _item_path(f"{where}.item_path", entity.item_path, entity.key_columns)
    return found


def _rest_reading(where: str, entity: EntitySettings) -> Problems:
    """The incremental filter and the parameters syncdeck sets itself."""
    found: Problems = []
    cursor_kind = entity.columns.get(entity.cursor or "")
    incremental = entity.incremental
    if incremental is not None:
        found += incremental_problems(f"{where}.incremental", incremental, cursor_kind)
        exclusive = not incremental.inclusive
        if exclusive and entity.lookback_s == 0 and cursor_kind in TIME_CURSOR_KINDS:
            found.append(
                (
                    f"{where}.lookback_s",
                    "0 with an exclusive filter loses the rows at the stored cursor: "
                    "leave it out (1 second) or give more",
                )
            )
    setters = {incremental.param: "incremental.param"} if incremental else {}
    pagination = entity.pagination
    for key in ("param", "limit_param", "size_param"):
        if pagination is not None and (param := getattr(pagination, key)):
            setters[param] = f"pagination.{key}"
    params, sort = entity.params or {}, entity.sort or {}
    for table, values in (("params", params), ("sort", sort)):
        for param in values:
            if param in setters:
                found.append(
                    (f"{where}.{table}.{param}", f"syncdeck sets it itself ({setters[param]})")
                )
    for param in sorted(set(params) & set(sort)):
        found.append((f"{where}.sort.{param}", "also in params: give it once"))
    return found


def _paths(where: str, mapped: dict[str, str]) -> Problems:
    return [
        (f"{where}.{column}", f"{path!r} is not a dotted path (a.b.c)")
        for column, path in mapped.items()
        if not dotted(path)
    ]


def _item_path(where: str, item_path: str, key: tuple[str, ...]) -> Problems:
    """`customers/{id}`: plain placeholders, every one a key column, every key column named
    (a URL that does not identify one record cannot confirm that it is gone)."""
    try:
        parts = list(string.Formatter().parse(item_path))
    except ValueError as exc:
        return [(where, f"{item_path!r} is not a path with {{column}} placeholders ({exc})")]
    found: Problems = []
    named = []
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        named.append(field)
        if spec or conversion:
            found.append((where, f"{{{field}}}: plain {{column}} placeholders only"))
        elif field not in key:
            found.append((where, f"{{{field}}} is not a key column (key: {', '.join(key)})"))
    missing = [column for column in key if column not in named]
    if missing and not found:
        found.append((where, f"names no {{{missing[0]}}}: a record's URL needs its whole key"))
    return found


def _table_name(where: str, name: str, taken: set[str]) -> Problems:
    if not IDENTIFIER.match(name):
        return [(where, "not a valid SQL name (lower-case a-z, 0-9 and _, at most 63)")]
    if name in RESERVED_TABLES:
        return [(where, f"{name!r} is one of syncdeck's own tables; choose another name")]
    if name in taken:
        return [(where, f"{name!r} is already a replica table (built-in, or another entity's)")]
    taken.add(name)
    return []


def _relation(where: str, table: str | None, query: str | None) -> Problems:
    if (table is None) == (query is None):
        return [(where, "give exactly one of table and query")]
    if query is not None and not query.lstrip().lower().startswith(("select", "with")):
        return [(f"{where}.query", "must be a read-only SELECT")]
    return []


def _columns(
    where: str, columns: dict[str, Kind], mapped: dict[str, str], key: tuple[str, ...]
) -> Problems:
    found: Problems = []
    if not columns:
        found.append((f"{where}.columns", "missing: name each replica column and its kind"))
    for column in columns:
        if not IDENTIFIER.match(column):
            found.append((f"{where}.columns.{column}", "not a valid SQL name"))
        elif column in RESERVED_COLUMNS:
            found.append((f"{where}.columns.{column}", "is one of syncdeck's own columns"))
    for column in mapped:
        if column not in columns:
            found.append((f"{where}.map.{column}", "maps a column that is not among the columns"))
    if not key:
        found.append((f"{where}.key", "missing: name the key column (or a list of them)"))
    for column in key:
        if column not in columns:
            found.append((f"{where}.key", f"{column!r} is not among the columns"))
        elif columns[column] in ("real", "json"):
            found.append((f"{where}.key", f"a {columns[column]} column cannot be a key"))
    if len(set(key)) != len(key):
        found.append((f"{where}.key", "names a column twice"))
    return found


def _child(
    where: str, child: ChildSettings, parent: EntitySettings, taken: set[str], rest: bool
) -> Problems:
    found = _table_name(f"{where}.name", child.name, taken)
    if rest:
        found += _rest_child(where, child, parent)
    else:
        if child.field is not None:
            found.append((f"{where}.field", "only a child of a rest source takes it (use table)"))
        found += _relation(where, child.table, child.query)
    found += _columns(where, child.columns, child.map, keys_of(child.key))
    if child.parent not in child.columns:
        found.append((f"{where}.parent", f"{child.parent!r} is not among the child's columns"))
    if len(parent.key_columns) > 1:
        found.append((f"{where}", "a parent with a composite key cannot have a child table"))
    return found


def _rest_child(where: str, child: ChildSettings, parent: EntitySettings) -> Problems:
    """An array in the parent's record; syncdeck fills the `parent` column with the
    parent's key, so that column is not read from the child record and has the key's kind."""
    found = [
        (f"{where}.{key}", "not for a child of a rest source (it is read from `field`)")
        for key in SQL_ONLY
        if getattr(child, key) is not None
    ]
    if child.field is None or not child.field.strip():
        found.append((f"{where}.field", "missing: the dotted path of the array in the record"))
    elif not dotted(child.field):
        found.append((f"{where}.field", f"{child.field!r} is not a dotted path (a.b.c)"))
    found += _paths(f"{where}.map", {c: p for c, p in child.map.items() if c != child.parent})
    if child.parent in child.map:
        found.append(
            (f"{where}.map.{child.parent}", "the parent column is filled by syncdeck, not mapped")
        )
    key_kind = parent.columns.get(parent.key_columns[0]) if parent.key_columns else None
    own_kind = child.columns.get(child.parent)
    if key_kind is not None and own_kind is not None and key_kind != own_kind:
        found.append(
            (
                f"{where}.columns.{child.parent}",
                f"a {own_kind} column cannot hold the parent's {key_kind} key",
            )
        )
    return found
