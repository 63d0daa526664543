"""`[sources.NAME]` and `[entities.NAME]`: the operator's own ERP, described in configuration.

A source is a database (`kind = "sql"`, here) or a JSON API (`kind = "rest"`,
`core.config.rest`): `ErpSourceSettings`, a union the table's `kind` decides. An entity's
table holds the keys of both kinds; which belong to its source's kind is checked with
everything else that spans keys and tables (`core.config.entity_checks`). The tables are
validated key by key like every other (`Section`); configuration loading raises every
problem together as one `ConfigError`, before anything is opened. Nothing here raises
but the validation of a table (`__post_init__`, as msgspec reports it).
"""

from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from core.config import limits
from core.config.rest import (
    DEFAULT_EXCLUSIVE_LOOKBACK_S,
    IncrementalSettings,
    PaginationSettings,
    RestSourceSettings,
    known_zone,
)
from core.config.section import Section

Kind = Literal["text", "integer", "real", "decimal", "boolean", "timestamp", "date", "json"]
"""A replica column's kind, as the configuration spells it."""
CURSOR_KINDS = ("timestamp", "date", "integer", "text")
TIME_CURSOR_KINDS = ("timestamp", "date")
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


class SqlSourceSettings(Section, frozen=True, kw_only=True, tag_field="kind", tag="sql"):
    """A relational database read with a read-only account (`kind = "sql"`)."""

    url: str | None = None
    """A SQLAlchemy URL; its password is never shown. Safer: `url_file`."""
    url_file: Path | None = None
    """A file holding the URL (its first line)."""
    timezone: str = "UTC"
    """What naive timestamps in this database mean (an IANA zone such as Europe/Rome)."""
    connect_timeout_s: Annotated[float, Meta(gt=0, le=limits.DAY_S)] = 10.0
    query_timeout_s: Annotated[float, Meta(gt=0, le=limits.DAY_S)] = 300.0

    @property
    def kind(self) -> Literal["sql"]:
        return "sql"

    def __post_init__(self) -> None:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("give exactly one of url and url_file")
        if not known_zone(self.timezone):
            raise ValueError(f"timezone {self.timezone!r} is not a known IANA time zone")


ErpSourceSettings = SqlSourceSettings | RestSourceSettings
"""A `[sources.NAME]` table, of the kind its `kind` names."""
Param = str | int | float | bool
"""A query parameter's value as the configuration spells it (sent as text)."""


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
    field: str | None = None
    """rest: the dotted path of the array of child records in the parent's record."""


class EntitySettings(Section, frozen=True, kw_only=True):
    """One entity of the operator's ERP: its service and replica table are named by its key."""

    source: str | None = None
    table: str | None = None
    query: str | None = None
    key: Keys | None = None
    cursor: str | None = None
    lookback_s: Annotated[float, Meta(ge=0, le=limits.DAY_S)] | None = None
    """Each incremental run reads again this much before the stored cursor (late commits).
    None: 0, or 1 s for a rest entity whose filter is exclusive (`core.config.rest`)."""
    horizon: Literal["cursor", "xmin"] = "cursor"
    columns: dict[str, Kind] = msgspec.field(default_factory=dict)
    map: dict[str, str] = msgspec.field(default_factory=dict)
    child: ChildSettings | None = None
    # rest only (after the keys above, so that a sql entity's fingerprint stays as it was)
    path: str | None = None
    """Joined to the source's `base_url`."""
    records: str | None = None
    """The dotted path of the list of records in a body; "" (the default): the body."""
    params: dict[str, Param] | None = None
    sort: dict[str, Param] | None = None
    """Params that make the API list in ascending cursor order."""
    pagination: PaginationSettings | None = None
    incremental: IncrementalSettings | None = None
    item_path: str | None = None
    """A record's own URL, `{key}` filled in: a 404 there confirms a delete."""

    @property
    def key_columns(self) -> tuple[str, ...]:
        return keys_of(self.key)


REST_ONLY = ("path", "records", "params", "sort", "pagination", "incremental", "item_path")
"""An entity's keys that only a rest source reads (None when not given)."""
SQL_ONLY = ("table", "query")


def keys_of(key: Keys | None) -> tuple[str, ...]:
    if key is None:
        return ()
    return (key,) if isinstance(key, str) else tuple(key)


def configured_entities(
    entities: dict[str, EntitySettings | bool],
) -> tuple[bool, dict[str, EntitySettings]]:
    """Whether the built-in entities stay (`[entities] builtin`), and the operator's own."""
    builtin = entities.get("builtin", True)
    own = {name: e for name, e in entities.items() if isinstance(e, EntitySettings)}
    return builtin is not False, own


def lookback_s(entity: EntitySettings, source: ErpSourceSettings) -> float:
    """How far before the stored cursor an incremental run reads again: `lookback_s`, or
    by default 0, and 1 s for a rest entity whose filter is exclusive (`inclusive = false`:
    the rows that share the stored cursor are read again, never lost)."""
    if entity.lookback_s is not None:
        return entity.lookback_s
    exclusive = entity.incremental is not None and not entity.incremental.inclusive
    return DEFAULT_EXCLUSIVE_LOOKBACK_S if source.kind == "rest" and exclusive else 0.0
