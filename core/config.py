"""Configuration: a TOML file plus `SYNCDECK_*` environment variables, validated once.

Precedence, strongest first: explicit overrides (command-line flags), the
environment (`SYNCDECK_ORCHESTRATOR__LEASE_TTL_S=5`), the TOML file, defaults.
Every invalid value is reported with its key, so `ConfigError` can be shown to
an operator as is.

The sections are msgspec Structs and the loader is the few lines below: every
`syncdeck` command reads the configuration before anything else, and pydantic
with pydantic-settings cost about 120 ms to import and build there, against a
few milliseconds for msgspec (see `console.startup` and `bench/console.py`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec
from msgspec import Meta

from core.models import MAX_PRIORITY, MIN_PRIORITY
from core.sync.entities import ENTITIES, MINUTE, STAGGER_ORDER

CONFIG_FILENAME = "syncdeck.toml"
ENV_PREFIX = "SYNCDECK_"
ENV_NESTING = "__"
DEMO_TIME_SCALE = 1 / 60
"""The demo profile turns every scheduled minute into a second."""

Positive = Annotated[float, Meta(gt=0)]
NonNegative = Annotated[float, Meta(ge=0)]
Share = Annotated[float, Meta(ge=0, le=1)]
Size = Annotated[int, Meta(ge=0, le=50_000_000)]


class ConfigError(Exception):
    """Invalid configuration; the message names every bad key and why."""


class Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A table of the configuration: immutable, and an unknown key is an error."""


class RetrySettings(Section, frozen=True, kw_only=True):
    tries: Annotated[
        int, Meta(ge=1, le=100, description="Attempts per request, the first included.")
    ] = 3
    backoff_s: list[NonNegative] = msgspec.field(default_factory=lambda: [10.0, 30.0, 60.0])
    """Delay before each retry; the last repeats."""


class CircuitSettings(Section, frozen=True, kw_only=True):
    failure_threshold: Annotated[int, Meta(ge=1)] = 3
    cooldown_s: NonNegative = 300.0


class OrchestratorSettings(Section, frozen=True, kw_only=True):
    lease_ttl_s: Positive = 10.0
    heartbeat_s: Positive = 3.0
    run_timeout_s: Positive = 600.0
    cancel_grace_s: NonNegative = 10.0
    """Hard deadline after a cancel."""
    aging_step_s: Positive = 60.0
    """Seconds of waiting worth one priority point."""
    event_retention: Annotated[int, Meta(ge=100)] = 10_000
    progress_persist_s: Positive = 1.0
    retry: RetrySettings = msgspec.field(default_factory=RetrySettings)
    circuit: CircuitSettings = msgspec.field(default_factory=CircuitSettings)

    def __post_init__(self) -> None:
        if self.heartbeat_s >= self.lease_ttl_s:
            raise ValueError("heartbeat_s must be shorter than lease_ttl_s")


class ServiceSettings(Section, frozen=True, kw_only=True):
    priority: Annotated[int, Meta(ge=MIN_PRIORITY, le=MAX_PRIORITY)] | None = None
    interval_s: Positive | None = None
    offset_s: NonNegative | None = None
    enabled: bool = True


class ScheduleSettings(Section, frozen=True, kw_only=True):
    enabled: bool = True
    stagger_s: NonNegative = 15 * MINUTE
    misfire_grace_s: float | None = None
    """None: a late job always runs once (never silently skipped)."""


class SourceSettings(Section, frozen=True, kw_only=True):
    kind: Literal["demo", "http", "simulated"] = "demo"
    """demo: the embedded demo ERP; http: an ERP's REST JSON API; simulated: stand-in
    services that only wait (for tests and demos of the orchestrator)."""
    url: str | None = None
    """http: base URL, e.g. http://127.0.0.1:8765"""
    token: str | None = None
    """http: bearer token"""
    timeout_s: Positive = 30.0

    def __post_init__(self) -> None:
        if self.kind == "http" and not self.url:
            raise ValueError("source.url is required when source.kind is 'http'")


class DemoSizes(Section, frozen=True, kw_only=True):
    customers: Size = 2_000
    products: Size = 10_000
    prices: Size = 10_000
    orders: Size = 20_000


class DemoFaults(Section, frozen=True, kw_only=True):
    error_rate: Share = 0.0
    """Share of pages that fail (like a 503)."""
    latency_s: NonNegative = 0.0
    """Added to every page."""
    hang_after_pages: Annotated[int, Meta(ge=0)] | None = None
    """Hang forever after N pages."""
    malformed_rate: Share = 0.0
    """Share of records served broken."""
    truncate_full: Annotated[float, Meta(gt=0, le=1)] | None = None
    """A full listing stops after this share of the records."""


class DemoSettings(Section, frozen=True, kw_only=True):
    seed: int = 7
    sizes: DemoSizes = msgspec.field(default_factory=DemoSizes)
    changes_per_minute: NonNegative = 60.0
    faults: DemoFaults = msgspec.field(default_factory=DemoFaults)


class SyncSettings(Section, frozen=True, kw_only=True):
    batch_size: Annotated[int, Meta(ge=1, le=100_000)] = 2000
    full_threshold: Annotated[float, Meta(gt=0, le=1)] = 0.7
    """A full pass listing fewer than this share deletes nothing."""
    full_every_h: Positive = 24.0
    """Auto runs full when the last is older."""


class SimulationSettings(Section, frozen=True, kw_only=True):
    """Stand-in services used until the entity services land: they wait and count."""

    run_seconds: NonNegative = 2.0
    rows: Annotated[int, Meta(ge=0)] = 1000
    failure_rate: Share = 0.0


class StoreSettings(Section, frozen=True, kw_only=True):
    """Where the coordination store lives: SQLite in the data directory unless `url` is set."""

    url: str | None = None
    """postgresql://user@host:port/dbname selects PostgreSQL (a password in it is never
    shown); libpq's PGPASSWORD and .pgpass work too."""
    schema: Annotated[str, Meta(pattern=r"^[a-z_][a-z0-9_]{0,47}$")] = "syncdeck"
    """PostgreSQL: the schema that holds syncdeck's tables (lower-case letters, digits, _)."""
    password_file: Path | None = None
    """PostgreSQL: a file holding the password (read when the store opens)."""

    def __post_init__(self) -> None:
        if self.url is not None and not self.url.startswith(("postgresql://", "postgres://")):
            raise ValueError("store.url must be a postgresql:// URL")


class ReplicaSettings(Section, frozen=True, kw_only=True):
    """Where the replica lives: by default beside the store (its PostgreSQL database when
    `[store] url` is set, else the SQLite file in the data directory)."""

    url: str | None = None
    """postgresql://user@host:port/dbname: the replica in that database (the one the
    business's programs read), whichever the store is."""
    schema: Annotated[str, Meta(pattern=r"^[a-z_][a-z0-9_]{0,47}$")] | None = None
    """PostgreSQL: the schema that holds the replica's tables (default: `[store] schema`)."""
    password_file: Path | None = None
    """PostgreSQL: a file holding the password (default: the store's, in its database)."""

    def __post_init__(self) -> None:
        if self.url is not None and not self.url.startswith(("postgresql://", "postgres://")):
            raise ValueError("replica.url must be a postgresql:// URL")


class Settings(Section, frozen=True, kw_only=True):
    data_dir: Path = msgspec.field(default_factory=lambda: default_data_dir())
    profile: Literal["default", "demo"] = "default"
    orchestrator: OrchestratorSettings = msgspec.field(default_factory=OrchestratorSettings)
    schedule: ScheduleSettings = msgspec.field(default_factory=ScheduleSettings)
    services: dict[str, ServiceSettings] = msgspec.field(default_factory=dict)
    simulation: SimulationSettings = msgspec.field(default_factory=SimulationSettings)
    source: SourceSettings = msgspec.field(default_factory=SourceSettings)
    demo: DemoSettings = msgspec.field(default_factory=DemoSettings)
    sync: SyncSettings = msgspec.field(default_factory=SyncSettings)
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    replica: ReplicaSettings = msgspec.field(default_factory=ReplicaSettings)

    def service(self, name: str) -> ServiceSettings:
        return self.services.get(name, ServiceSettings())

    def default_priority(self, name: str) -> int:
        configured = self.service(name).priority
        if configured is not None:
            return configured
        return ENTITIES[name].default_priority if name in ENTITIES else 1

    def interval_s(self, name: str) -> float:
        configured = self.service(name).interval_s
        if configured is not None:
            return configured
        default = ENTITIES[name].default_interval_s if name in ENTITIES else 30 * MINUTE
        return default * self._scale

    def offset_s(self, name: str) -> float:
        configured = self.service(name).offset_s
        if configured is not None:
            return configured
        index = STAGGER_ORDER.index(name) if name in STAGGER_ORDER else len(STAGGER_ORDER)
        return index * self.schedule.stagger_s * self._scale

    @classmethod
    def from_values(cls, **values: Any) -> Settings:
        """Settings from plain values, tables as dicts (`schedule={"enabled": False}`),
        validated like a configuration file. Raises ConfigError naming every bad key."""
        return _validated(values, "")

    @property
    def _scale(self) -> float:
        return DEMO_TIME_SCALE if self.profile == "demo" else 1.0


def default_data_dir() -> Path:
    env = os.environ.get(ENV_PREFIX + "DATA_DIR")
    if env:
        return Path(env)
    import platformdirs  # only when no directory is given: it costs a few ms to import

    return Path(platformdirs.user_data_dir("syncdeck", appauthor=False))


def load_settings(
    config_file: Path | None = None, data_dir: Path | None = None, **overrides: Any
) -> Settings:
    """Settings from `config_file` (else `syncdeck.toml` in the data directory, if any),
    the environment and `overrides`. Raises ConfigError naming every bad key."""
    base_dir = data_dir or default_data_dir()
    if config_file is None:
        candidate = base_dir / CONFIG_FILENAME
        config_file = candidate if candidate.exists() else None
    elif not config_file.is_file():
        raise ConfigError(f"config file {config_file}: no such file")
    merged: dict[str, Any] = {}
    if config_file is not None:
        try:
            merged = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {config_file}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"config file {config_file}: {exc.strerror}") from exc
    _merge(merged, environment_values(os.environ))
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    _merge(merged, overrides)
    return _validated(
        merged, f" (file {config_file} and SYNCDECK_* environment)" if config_file else ""
    )


def _validated(values: dict[str, Any], where: str) -> Settings:
    try:
        settings: Settings = _convert(values, Settings)
        return settings
    except msgspec.ValidationError:
        lines = [f"invalid configuration{where}:"]
        lines += [f"  {key}: {reason}" for key, reason in _problems(values, Settings, "")]
        raise ConfigError("\n".join(lines)) from None


def environment_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """`SYNCDECK_A__B=1` as `{"a": {"b": "1"}}`, for the settings' own top-level keys only
    (other `SYNCDECK_*` variables belong to somebody else). Values stay text, converted by
    type when validated; one that looks like a JSON list or table is decoded first."""
    known = set(Settings.__struct_fields__)
    values: dict[str, Any] = {}
    for name, text in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split(ENV_NESTING)
        if path[0] not in known or not all(path):
            continue
        value: Any = text
        if text.lstrip().startswith(("[", "{")):
            with contextlib.suppress(ValueError):  # else left as text: validation names it
                value = json.loads(text)
        node = values
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[path[-1]] = value
    return values


def _merge(into: dict[str, Any], layer: Mapping[str, Any]) -> None:
    """Overlay `layer` on `into` key by key, tables recursively."""
    for key, value in layer.items():
        current = into.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            _merge(current, value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


def _path_hook(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str | os.PathLike):
        return Path(value)
    raise NotImplementedError


def _convert(data: Any, kind: Any) -> Any:
    # Lax: the environment gives text ("5", "false") for numbers and switches.
    return msgspec.convert(data, kind, strict=False, dec_hook=_path_hook)


def _problems(data: Any, kind: Any, key: str) -> list[tuple[str, str]]:
    """Every invalid key under `key`, with its reason. msgspec stops at the first error;
    this walks the tables to name them all (only on the error path)."""
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct) and isinstance(data, dict):
        fields = {f.encode_name: f.type for f in msgspec.structs.fields(kind)}
        found: list[tuple[str, str]] = []
        for name, value in data.items():
            where = f"{key}.{name}" if key else name
            if name in fields:
                found += _problems(value, fields[name], where)
            else:
                found.append((where, "unknown key, not permitted here"))
        if found:
            return found
    elif get_origin(kind) is dict and isinstance(data, dict):
        value_kind = get_args(kind)[1]
        found = []
        for name, value in data.items():
            found += _problems(value, value_kind, f"{key}.{name}" if key else str(name))
        if found:
            return found
    try:
        _convert(data, kind)
    except msgspec.ValidationError as exc:
        return [(key or "(top level)", _reason(str(exc)))]
    return []


_BOUND = re.compile(r"^Expected `(\w+)` (>=|<=|>|<) (\S+)")
_TYPE = re.compile(r"^Expected `(\w+)`, got `(\w+)`")
_BOUND_WORDS = {
    ">": "greater than",
    ">=": "greater than or equal to",
    "<": "less than",
    "<=": "less than or equal to",
}
_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "array": "a list",
    "object": "a table",
    "null": "nothing",
}


def _reason(message: str) -> str:
    """msgspec's message for one value, in an operator's words, without its `$.path`."""
    message = message.split(" - at `$", 1)[0]
    if bound := _BOUND.match(message):
        number = bound.group(3).removesuffix(".0")
        return f"must be {_BOUND_WORDS[bound.group(2)]} {number}"
    if wrong := _TYPE.match(message):
        expected, got = (_TYPE_WORDS.get(t, t) for t in wrong.groups())
        return f"expected {expected}, got {got}"
    return message
