"""A benchmark's data directory as the daemon finds it: the settings loaded from its
syncdeck.toml, and the replica file (the store's, WAL, as the daemon makes it) prepared
before a first run with an entity's tables made by the replica code. Shared by the SQL
source bench (bench/sqlconfig.py) and the REST source bench (bench/restshop.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.config import Settings, load_settings
from core.config.settings import CONFIG_FILENAME
from core.entities import EntitySpec
from core.runtime import open_replica
from core.store import DB_FILENAME, SQLiteStore


def write_config_text(data_dir: Path, text: str) -> Path:
    """syncdeck.toml in `data_dir`, as the daemon would find it."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / CONFIG_FILENAME
    path.write_text(text, encoding="utf-8")
    return path


def settings_of(data_dir: Path) -> Settings:
    """The settings from `data_dir`'s syncdeck.toml (no SYNCDECK_* in the environment)."""
    return load_settings(data_dir / CONFIG_FILENAME, data_dir)


def prepare_replica(settings: Settings, spec: EntitySpec) -> None:
    """The store's tables and the entity's replica tables in one file, as the daemon has
    them before a first run: the replica is the one `open_replica` gives (without the
    built-in entities' tables when the configuration turns them off)."""
    path = replica_path(settings.data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def store() -> None:
        made = SQLiteStore(path)
        await made.open()
        await made.close()

    asyncio.run(store())
    open_replica(settings).target(spec).close()


def replica_path(data_dir: Path) -> Path:
    return data_dir / DB_FILENAME
