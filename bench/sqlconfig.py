"""The configuration bench/sqlsource.py syncs with, as an operator would write it in
syncdeck.toml (`[sources.erp] kind = "sql"` and `[entities.partners]`), the settings loaded
from it, and the replica files both sides write into, prepared alike: the store's file
(WAL, as the daemon makes it) with the configured entity's table made by the replica code.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from erptable import TABLE, ErpDatabase

from core.config import Settings, load_settings
from core.config.settings import CONFIG_FILENAME
from core.entities import EntitySpec
from core.replica.sqlite import SQLiteReplica
from core.runtime.entities import entity_specs
from core.store import DB_FILENAME, SQLiteStore

ENTITY = "partners"


def config_text(db: ErpDatabase) -> str:
    return f"""\
[entities]
builtin = false

[sources.erp]
kind = "sql"
url = "{db.url}"
timezone = "Europe/Rome"

[entities.{ENTITY}]
source = "erp"
table = "{TABLE}"
key = "id"
cursor = "write_date"
columns = {{ id = "integer", name = "text", email = "text", credit_limit = "decimal", \
active = "boolean", write_date = "timestamp" }}
"""


def write_config(db: ErpDatabase, data_dir: Path) -> Path:
    """syncdeck.toml in `data_dir`, as the daemon would find it."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / CONFIG_FILENAME
    path.write_text(config_text(db), encoding="utf-8")
    return path


def settings_of(data_dir: Path) -> Settings:
    """The settings from `data_dir`'s syncdeck.toml (no SYNCDECK_* in the environment)."""
    return load_settings(data_dir / CONFIG_FILENAME, data_dir)


def entity_spec(settings: Settings) -> EntitySpec:
    return entity_specs(settings)[ENTITY]


def prepare_replica(path: Path, spec: EntitySpec) -> None:
    """The store's tables and the entity's replica table in one file, as the daemon has
    them before a first run."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def store() -> None:
        made = SQLiteStore(path)
        await made.open()
        await made.close()

    asyncio.run(store())
    SQLiteReplica(path).target(spec).close()


def replica_path(data_dir: Path) -> Path:
    return data_dir / DB_FILENAME
