"""Configuration: a TOML file plus `SYNCDECK_*` environment variables, validated once.

Precedence, strongest first: explicit overrides (command-line flags), the
environment (`SYNCDECK_ORCHESTRATOR__LEASE_TTL_S=5`), the TOML file, defaults.
Every invalid value is reported with its key, so `ConfigError` can be shown to
an operator as is.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.models import BUILTIN_PRIORITIES, MAX_PRIORITY, MIN_PRIORITY
from core.sources.demo import DemoFaults, DemoSizes

CONFIG_FILENAME = "syncdeck.toml"
MINUTE = 60.0

DEFAULT_INTERVALS_S: dict[str, float] = {
    "orders": 30 * MINUTE,
    "customers": 30 * MINUTE,
    "products": 30 * MINUTE,
    "prices": 60 * MINUTE,
}
"""Orders and customers change all day and matter most; products every half hour;
prices change in batches, so hourly is enough."""

STAGGER_ORDER = ["orders", "customers", "products", "prices"]

DEMO_TIME_SCALE = 1 / 60
"""The demo profile turns every scheduled minute into a second."""


class ConfigError(Exception):
    """Invalid configuration; the message names every bad key and why."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetrySettings(Section):
    tries: int = Field(3, ge=1, le=100, description="Attempts per request, the first included.")
    backoff_s: list[float] = Field(
        default_factory=lambda: [10.0, 30.0, 60.0],
        description="Delay before each retry; the last repeats.",
    )

    @field_validator("backoff_s")
    @classmethod
    def _non_negative(cls, value: list[float]) -> list[float]:
        if any(v < 0 for v in value):
            raise ValueError("backoff delays must be >= 0")
        return value


class CircuitSettings(Section):
    failure_threshold: int = Field(3, ge=1)
    cooldown_s: float = Field(300.0, ge=0)


class OrchestratorSettings(Section):
    lease_ttl_s: float = Field(10.0, gt=0)
    heartbeat_s: float = Field(3.0, gt=0)
    run_timeout_s: float = Field(600.0, gt=0)
    cancel_grace_s: float = Field(10.0, ge=0, description="Hard deadline after a cancel.")
    aging_step_s: float = Field(
        60.0, gt=0, description="Seconds of waiting worth one priority point."
    )
    event_retention: int = Field(10_000, ge=100)
    progress_persist_s: float = Field(1.0, gt=0)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    circuit: CircuitSettings = Field(default_factory=CircuitSettings)

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> OrchestratorSettings:
        if self.heartbeat_s >= self.lease_ttl_s:
            raise ValueError("heartbeat_s must be shorter than lease_ttl_s")
        return self


class ServiceSettings(Section):
    priority: int | None = Field(None, ge=MIN_PRIORITY, le=MAX_PRIORITY)
    interval_s: float | None = Field(None, gt=0)
    offset_s: float | None = Field(None, ge=0)
    enabled: bool = True


class ScheduleSettings(Section):
    enabled: bool = True
    stagger_s: float = Field(15 * MINUTE, ge=0)
    misfire_grace_s: float | None = Field(
        None, description="None: a late job always runs once (never silently skipped)."
    )


class SourceSettings(Section):
    kind: Literal["demo", "http", "simulated"] = Field(
        "demo",
        description="demo: the embedded demo ERP; http: an ERP's REST JSON API; "
        "simulated: stand-in services that only wait (for tests and demos of the orchestrator)",
    )
    url: str | None = Field(None, description="http: base URL, e.g. http://127.0.0.1:8765")
    token: str | None = Field(None, description="http: bearer token")
    timeout_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _http_needs_url(self) -> SourceSettings:
        if self.kind == "http" and not self.url:
            raise ValueError("source.url is required when source.kind is 'http'")
        return self


class DemoSettings(Section):
    seed: int = 7
    sizes: DemoSizes = Field(default_factory=DemoSizes)
    changes_per_minute: float = Field(60.0, ge=0)
    faults: DemoFaults = Field(default_factory=DemoFaults)


class SyncSettings(Section):
    batch_size: int = Field(2000, ge=1, le=100_000)
    full_threshold: float = Field(
        0.7, gt=0, le=1, description="A full pass listing fewer than this share deletes nothing."
    )
    full_every_h: float = Field(24.0, gt=0, description="Auto runs full when the last is older.")


class SimulationSettings(Section):
    """Stand-in services used until the entity services land: they wait and count."""

    run_seconds: float = Field(2.0, ge=0)
    rows: int = Field(1000, ge=0)
    failure_rate: float = Field(0.0, ge=0, le=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SYNCDECK_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = Field(default_factory=lambda: default_data_dir())
    profile: Literal["default", "demo"] = "default"
    orchestrator: OrchestratorSettings = Field(default_factory=OrchestratorSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    services: dict[str, ServiceSettings] = Field(default_factory=dict)
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)
    source: SourceSettings = Field(default_factory=SourceSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)

    def service(self, name: str) -> ServiceSettings:
        return self.services.get(name, ServiceSettings())

    def default_priority(self, name: str) -> int:
        configured = self.service(name).priority
        return configured if configured is not None else BUILTIN_PRIORITIES.get(name, 1)

    def interval_s(self, name: str) -> float:
        configured = self.service(name).interval_s
        if configured is not None:
            return configured
        return DEFAULT_INTERVALS_S.get(name, 30 * MINUTE) * self._scale

    def offset_s(self, name: str) -> float:
        configured = self.service(name).offset_s
        if configured is not None:
            return configured
        index = STAGGER_ORDER.index(name) if name in STAGGER_ORDER else len(STAGGER_ORDER)
        return index * self.schedule.stagger_s * self._scale

    @property
    def _scale(self) -> float:
        return DEMO_TIME_SCALE if self.profile == "demo" else 1.0


def default_data_dir() -> Path:
    env = os.environ.get("SYNCDECK_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir("syncdeck", appauthor=False))


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
    if config_file is not None:
        try:
            tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {config_file}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"config file {config_file}: {exc.strerror}") from exc
    toml_path = config_file

    class _Loaded(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if toml_path is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
            return tuple(sources)

    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        return _Loaded(**overrides)
    except ValidationError as exc:
        where = f" (file {config_file} and SYNCDECK_* environment)" if config_file else ""
        lines = [f"invalid configuration{where}:"]
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"]) or "(top level)"
            lines.append(f"  {key}: {error['msg']}")
        raise ConfigError("\n".join(lines)) from exc
