"""`[sources.NAME]` and `[entities.NAME]`: the operator's own ERP, described in configuration.

The tables are validated key by key like every other (`Section`). What spans keys and
tables is checked by `entity_problems`, which names every problem on one line each. Such
problems are a source that is not declared, a key that is not a column, a name that is
not an SQL identifier or that collides with syncdeck's own tables. Configuration loading
raises them together as one `ConfigError`, before anything is opened.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from core.config import limits
from core.config.section import Section

Kind = Literal["text", "integer", "real", "decimal", "boolean", "timestamp", "date", "json"]
"""A replica column's kind, as the configuration spells it."""
CURSOR_KINDS = ("timestamp", "date", "integer", "text")
TIME_CURSOR_KINDS = ("timestamp", "date")

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
"""Lower case, so that no dialect needs it quoted, and at most PostgreSQL's 63 bytes."""
RESERVED_TABLES = frozenset(
    {
        "quarantine",
        "sync_state",
        "replica_meta",
        "controls",
        "events",
        "lease",
        "requests",
        "runner_plan",
        "runs",
        "services",
        "sqlite_sequence",
    }
)
"""syncdeck's own tables, in the replica's database and (by default) in the same file."""
RESERVED_COLUMNS = frozenset({"sync_key", "sync_parent", "row_hash", "synced_at", "deleted_at"})
"""The columns syncdeck adds to every replica table (or child table) it makes."""

Keys = str | list[str]


class SqlSourceSettings(Section, frozen=True, kw_only=True):
    """A relational database read with a read-only account (`kind = "sql"`)."""

    kind: Literal["sql"]
    url: str | None = None
    """A SQLAlchemy URL; its password is never shown. Safer: `url_file`."""
    url_file: Path | None = None
    """A file holding the URL (its first line)."""
    timezone: str = "UTC"
    """What naive timestamps in this database mean (an IANA zone such as Europe/Rome)."""
    connect_timeout_s: Annotated[float, Meta(gt=0, le=limits.DAY_S)] = 10.0
    query_timeout_s: Annotated[float, Meta(gt=0, le=limits.DAY_S)] = 300.0

    def __post_init__(self) -> None:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("give exactly one of url and url_file")
        if not _known_zone(self.timezone):
            raise ValueError(f"timezone {self.timezone!r} is not a known IANA time zone")


class ChildSettings(Section, frozen=True, kw_only=True):
    """Rows owned by the parent, replaced together with it in one transaction."""

    name: str
    """The replica table."""
    table: str | None = None
    query: str | None = None
    parent: str
    """The child's column holding the parent's key."""
    key: Keys
    columns: dict[str, Kind]
    map: dict[str, str] = msgspec.field(default_factory=dict)


class EntitySettings(Section, frozen=True, kw_only=True):
    """One entity of the operator's ERP: its service and replica table are named by its key."""

    source: str | None = None
    table: str | None = None
    query: str | None = None
    key: Keys | None = None
    cursor: str | None = None
    lookback_s: Annotated[float, Meta(ge=0, le=limits.DAY_S)] = 0.0
    """Each incremental run reads again this much before the stored cursor (late commits)."""
    horizon: Literal["cursor", "xmin"] = "cursor"
    columns: dict[str, Kind] = msgspec.field(default_factory=dict)
    map: dict[str, str] = msgspec.field(default_factory=dict)
    child: ChildSettings | None = None

    @property
    def key_columns(self) -> tuple[str, ...]:
        return _keys(self.key)


def _keys(key: Keys | None) -> tuple[str, ...]:
    if key is None:
        return ()
    return (key,) if isinstance(key, str) else tuple(key)


def _known_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def configured_entities(
    entities: dict[str, EntitySettings | bool],
) -> tuple[bool, dict[str, EntitySettings]]:
    """Whether the built-in entities stay (`[entities] builtin`), and the operator's own."""
    builtin = entities.get("builtin", True)
    own = {name: e for name, e in entities.items() if isinstance(e, EntitySettings)}
    return builtin is not False, own


def entity_problems(
    sources: dict[str, SqlSourceSettings],
    entities: dict[str, EntitySettings | bool],
    builtin_names: frozenset[str],
) -> list[tuple[str, str]]:
    """Every problem across keys and tables, as (key, reason)."""
    found: list[tuple[str, str]] = []
    for name, value in entities.items():
        if name == "builtin":
            if not isinstance(value, bool):
                found.append(("entities.builtin", "expected true or false"))
        elif not isinstance(value, EntitySettings):
            found.append((f"entities.{name}", "expected a table describing the entity"))
    keep_builtin, own = configured_entities(entities)
    taken = set(builtin_names) if keep_builtin else set()
    for name in sources:
        if not IDENTIFIER.match(name):
            found.append((f"sources.{name}", "not a valid name (a-z, 0-9 and _)"))
    for name, entity in own.items():
        found += _entity(name, entity, sources, taken)
    return found


def _entity(
    name: str, entity: EntitySettings, sources: dict[str, SqlSourceSettings], taken: set[str]
) -> list[tuple[str, str]]:
    where = f"entities.{name}"
    found = _table_name(where, name, taken)
    if entity.source is None:
        found.append((f"{where}.source", "missing: name the [sources.NAME] it is read from"))
    elif entity.source not in sources:
        declared = ", ".join(sorted(sources)) or "none"
        found.append((f"{where}.source", f"no source {entity.source!r} (declared: {declared})"))
    found += _relation(where, entity.table, entity.query)
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
    url = getattr(sources.get(entity.source or ""), "url", None)
    if entity.horizon == "xmin" and url is not None and not url.startswith("postgres"):
        found.append((f"{where}.horizon", "xmin needs a PostgreSQL source"))
    child = entity.child
    if child is not None:
        found += _child(f"{where}.child", child, entity, taken)
    return found


def _table_name(where: str, name: str, taken: set[str]) -> list[tuple[str, str]]:
    if not IDENTIFIER.match(name):
        return [(where, "not a valid SQL name (lower-case a-z, 0-9 and _, at most 63)")]
    if name in RESERVED_TABLES:
        return [(where, f"{name!r} is one of syncdeck's own tables; choose another name")]
    if name in taken:
        return [(where, f"{name!r} is already a replica table (built-in, or another entity's)")]
    taken.add(name)
    return []


def _relation(where: str, table: str | None, query: str | None) -> list[tuple[str, str]]:
    if (table is None) == (query is None):
        return [(where, "give exactly one of table and query")]
    if query is not None and not query.lstrip().lower().startswith(("select", "with")):
        return [(f"{where}.query", "must be a read-only SELECT")]
    return []


def _columns(
    where: str, columns: dict[str, Kind], mapped: dict[str, str], key: tuple[str, ...]
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
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
    where: str, child: ChildSettings, parent: EntitySettings, taken: set[str]
) -> list[tuple[str, str]]:
    found = _table_name(f"{where}.name", child.name, taken)
    found += _relation(where, child.table, child.query)
    found += _columns(where, child.columns, child.map, _keys(child.key))
    if child.parent not in child.columns:
        found.append((f"{where}.parent", f"{child.parent!r} is not among the child's columns"))
    if len(parent.key_columns) > 1:
        found.append((f"{where}", "a parent with a composite key cannot have a child table"))
    return found
