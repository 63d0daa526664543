"""Configuration: a TOML file plus `SYNCDECK_*` environment variables, validated once.

Precedence, strongest first: explicit overrides (command-line flags), the
environment (`SYNCDECK_ORCHESTRATOR__LEASE_TTL_S=5`), the TOML file, defaults.
Every invalid value is reported with its key, so `ConfigError` can be shown to
an operator as is.

The sections are msgspec Structs and the loader is the few lines below: every
`syncdeck` command reads the configuration before anything else, so it must be
cheap to import (the README's figures say why not pydantic).
"""

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from core.config import limits
from core.config.entities import EntitySettings, ErpSourceSettings
from core.config.notify import NotifySettings
from core.config.problems import MalformedJSON, convert, problems
from core.config.section import Section
from core.config.stores import ApiSettings, ReplicaSettings, StoreSettings
from core.entities import ENTITIES, MINUTE
from core.models import MAX_PRIORITY, MIN_PRIORITY

CONFIG_FILENAME = "syncdeck.toml"
ENV_PREFIX = "SYNCDECK_"
ENV_NESTING = "__"
DEMO_TIME_SCALE = 1 / 60
"""The demo profile turns every scheduled minute into a second."""

# Every number has both bounds: `inf`, `nan` and absurd values (`1e308` seconds, which no
# date computation survives) are refused with the key that holds them.
Share = Annotated[float, Meta(ge=0, le=1)]
Size = Annotated[int, Meta(ge=0, le=50_000_000)]
Count = Annotated[int, Meta(ge=0, le=1_000_000_000)]
Duration = Annotated[float, Meta(gt=0, le=limits.DAY_S)]
"""A positive number of seconds, at most a day (timeouts, leases, delays)."""
Delay = Annotated[float, Meta(ge=0, le=limits.DAY_S)]
"""Seconds that may be 0, at most a day."""
Interval = Annotated[float, Meta(ge=limits.MIN_INTERVAL_S, le=limits.MAX_INTERVAL_S)]
Offset = Annotated[float, Meta(ge=0, le=limits.MAX_OFFSET_S)]


class ConfigError(Exception):
    """Invalid configuration; the message names every bad key and why."""


class RetrySettings(Section, frozen=True, kw_only=True):
    tries: Annotated[
        int, Meta(ge=1, le=100, description="Attempts per request, the first included.")
    ] = 3
    backoff_s: Annotated[list[Delay], Meta(max_length=100)] = msgspec.field(
        default_factory=lambda: [10.0, 30.0, 60.0]
    )
    """Delay before each retry; the last repeats."""


class CircuitSettings(Section, frozen=True, kw_only=True):
    failure_threshold: Annotated[int, Meta(ge=1, le=1000)] = 3
    cooldown_s: Delay = 300.0


class OrchestratorSettings(Section, frozen=True, kw_only=True):
    lease_ttl_s: Duration = 10.0
    heartbeat_s: Duration = 3.0
    run_timeout_s: Annotated[float, Meta(gt=0, le=7 * limits.DAY_S)] = 600.0
    cancel_grace_s: Delay = 10.0
    """Hard deadline after a cancel."""
    aging_step_s: Annotated[float, Meta(gt=0, le=limits.YEAR_S)] = 60.0
    """Seconds of waiting worth one priority point."""
    event_retention: Annotated[int, Meta(ge=100, le=100_000_000)] = 10_000
    progress_persist_s: Duration = 0.5
    """How often at most the active run's progress is written to the store (the last
    report always is, so every process sees the figures the runner's console shows)."""
    stall_s: Duration = 60.0
    """A run with no progress for this long is stalled: every front end says so, the
    service is degraded and a `run.stalled` event (and notification) goes out once."""
    retry: RetrySettings = msgspec.field(default_factory=RetrySettings)
    circuit: CircuitSettings = msgspec.field(default_factory=CircuitSettings)

    def __post_init__(self) -> None:
        if self.heartbeat_s >= self.lease_ttl_s:
            raise ValueError("heartbeat_s must be shorter than lease_ttl_s")
        if self.stall_s <= self.progress_persist_s:
            raise ValueError("stall_s must be longer than progress_persist_s")


class ServiceSettings(Section, frozen=True, kw_only=True):
    priority: Annotated[int, Meta(ge=MIN_PRIORITY, le=MAX_PRIORITY)] | None = None
    interval_s: Interval | None = None
    offset_s: Offset | None = None
    enabled: bool = True


class ScheduleSettings(Section, frozen=True, kw_only=True):
    enabled: bool = True
    stagger_s: Offset = 15 * MINUTE
    """The smallest gap wanted between any two services' fires. The default offsets spread
    the fires as far apart as the intervals allow; when that is less than this, the daemon
    and `syncdeck schedule` say so, with the gap achieved. 0: no spreading at all."""
    misfire_grace_s: Delay | None = None
    """None: a late job always runs once (never silently skipped)."""


class SourceSettings(Section, frozen=True, kw_only=True):
    kind: Literal["demo", "http", "simulated"] = "demo"
    """demo: the embedded demo ERP; http: an ERP's REST JSON API; simulated: stand-in
    services that only wait (for tests and demos of the orchestrator)."""
    url: str | None = None
    """http: base URL, e.g. http://127.0.0.1:8765"""
    token: str | None = None
    """http: bearer token. Safer than here or in the environment: `token_file`."""
    token_file: Path | None = None
    """http: a file holding the bearer token (its first line), kept out of `ps` and of
    this file; readable by the owner only, as a rule."""
    timeout_s: Duration = 30.0

    def __post_init__(self) -> None:
        if self.kind == "http" and not self.url:
            raise ValueError("source.url is required when source.kind is 'http'")
        if self.token is not None and self.token_file is not None:
            raise ValueError("give source.token or source.token_file, not both")


class DemoSizes(Section, frozen=True, kw_only=True):
    customers: Size = 2_000
    products: Size = 10_000
    prices: Size = 10_000
    orders: Size = 20_000


class DemoFaults(Section, frozen=True, kw_only=True):
    error_rate: Share = 0.0
    """Share of pages that fail (like a 503)."""
    latency_s: Annotated[float, Meta(ge=0, le=3600)] = 0.0
    """Added to every page."""
    hang_after_pages: Count | None = None
    """Hang forever after N pages."""
    malformed_rate: Share = 0.0
    """Share of records served broken."""
    truncate_full: Annotated[float, Meta(gt=0, le=1)] | None = None
    """A full listing stops after this share of the records."""


class DemoSettings(Section, frozen=True, kw_only=True):
    seed: Annotated[int, Meta(ge=0, le=2**63 - 1)] = 7
    sizes: DemoSizes = msgspec.field(default_factory=DemoSizes)
    changes_per_minute: Annotated[float, Meta(ge=0, le=1_000_000)] = 60.0
    faults: DemoFaults = msgspec.field(default_factory=DemoFaults)


class SyncSettings(Section, frozen=True, kw_only=True):
    batch_size: Annotated[int, Meta(ge=1, le=100_000)] = 2000
    full_threshold: Annotated[float, Meta(gt=0, le=1)] = 0.7
    """A full pass listing fewer than this share deletes nothing."""
    full_every_h: Annotated[float, Meta(gt=0, le=limits.YEAR_S / 3600)] = 24.0
    """Auto runs full when the last is older."""


class SimulationSettings(Section, frozen=True, kw_only=True):
    """Stand-in services used until the entity services land: they wait and count."""

    run_seconds: Delay = 2.0
    rows: Count = 1000
    failure_rate: Share = 0.0


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
    api: ApiSettings = msgspec.field(default_factory=ApiSettings)
    replica: ReplicaSettings = msgspec.field(default_factory=ReplicaSettings)
    notify: NotifySettings = msgspec.field(default_factory=NotifySettings)
    """Webhooks the runner alerts (`[[notify.webhooks]]`)."""
    sources: dict[str, ErpSourceSettings] = msgspec.field(default_factory=dict)
    """The operator's own ERP databases and APIs, by name (`[sources.NAME]`, of the
    `kind` each names: sql or rest)."""
    entities: dict[str, EntitySettings | bool] = msgspec.field(default_factory=dict)
    """The operator's own entities (`[entities.NAME]`), and `builtin = false` to drop
    the built-in four."""

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

    @property
    def stagger_s(self) -> float:
        """The smallest gap wanted between two services' fires, in the profile's time."""
        return self.schedule.stagger_s * self._scale

    @classmethod
    def from_values(cls, **values: Any) -> "Settings":
        """Settings from plain values, tables as dicts (`schedule={"enabled": False}`),
        validated like a configuration file. Raises ConfigError naming every bad key."""
        return _validated(values, "")

    @property
    def _scale(self) -> float:
        return DEMO_TIME_SCALE if self.profile == "demo" else 1.0


def read_secret_file(path: Path, what: str) -> str:
    """The first line of `path`, stripped: a secret kept out of argv and the environment.

    Raises ConfigError naming `what` and the file when it cannot be read or is empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{what} {path}: {reason}") from exc
    secret = text.splitlines()[0].strip() if text.strip() else ""
    if not secret:
        raise ConfigError(f"{what} {path}: the file is empty")
    return secret


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
        import tomllib  # only with a file to read: the console's first frame has none to wait on

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
        settings: Settings = convert(values, Settings)
    except msgspec.ValidationError:
        found = problems(values, Settings, "")
        found += _cross_problems(values, {key for key, _ in found})
        found += service_problems(values)
    else:
        found = service_problems(values)
        if settings.entities or settings.sources:
            from core.config.entity_checks import entity_problems  # only with them to check

            found = (
                entity_problems(settings.sources, settings.entities, frozenset(ENTITIES)) + found
            )
        if not found:
            return settings
    lines = [f"invalid configuration{where}:"]
    lines += [f"  {key}: {reason}" for key, reason in found]
    raise ConfigError("\n".join(lines)) from None


def service_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    """A `[services.NAME]` that names no service: a typo such as `[services.ordrs]` would
    otherwise be ignored without a word. The services are the built-in ones (unless turned
    off), the configured entities and the installed plugins' (looked up only when a name is
    not among the others)."""
    services, entities = values.get("services"), values.get("entities")
    if not isinstance(services, dict) or not services:
        return []
    entities = entities if isinstance(entities, dict) else {}
    known = {name for name, value in entities.items() if isinstance(value, dict)}
    if entities.get("builtin", True) is not False:
        known |= set(ENTITIES)
    unknown = sorted(set(services) - known)
    if unknown:
        from core.config.plugins import plugin_names

        known |= plugin_names()
        unknown = sorted(set(unknown) - known)
    shown = ", ".join(sorted(known)) or "none"
    return [(f"services.{name}", f"no such service; known: {shown}") for name in unknown]


def _cross_problems(values: dict[str, Any], reported: set[str]) -> list[tuple[str, str]]:
    """The problems across `[sources]` and `[entities]` among the tables that are valid on
    their own, so that one pass names every mistake."""
    sources, entities = values.get("sources"), values.get("entities")
    if not isinstance(sources, dict) or not isinstance(entities, dict):
        return []

    def valid(table: dict[str, Any], kind: Any) -> dict[str, Any]:
        found = {}
        for name, value in table.items():
            try:
                found[name] = convert(value, kind)
            except msgspec.ValidationError:
                continue
        return found

    from core.config.entity_checks import entity_problems  # only on the error path

    valid_sources = valid(sources, ErpSourceSettings)
    more = entity_problems(
        valid_sources,
        valid(entities, EntitySettings | bool),
        frozenset(ENTITIES),
        broken=frozenset(sources) - frozenset(valid_sources),
    )
    return [(key, reason) for key, reason in more if key not in reported]


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
            try:
                value = json.loads(text)
            except ValueError as exc:  # kept as text (a token may start with "["), but named
                value = MalformedJSON(text, name, exc)
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
