"""The configuration bench/sqlsource.py syncs with, as an operator would write it in
syncdeck.toml (`[sources.erp] kind = "sql"` and `[entities.partners]`), the settings loaded
from it, and the replica files both sides write into, prepared alike: the store's file
(WAL, as the daemon makes it) with the configured entity's table made by the replica code
(`bench/datadir.py`).
"""

from __future__ import annotations

from pathlib import Path

from datadir import prepare_replica, replica_path, settings_of, write_config_text
from erptable import TABLE, ErpDatabase

from core.config import Settings
from core.entities import EntitySpec
from core.runtime.entities import entity_specs

__all__ = [
    "ENTITY",
    "config_text",
    "entity_spec",
    "prepare_replica",
    "replica_path",
    "settings_of",
    "write_config",
]

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
    return write_config_text(data_dir, config_text(db))


def entity_spec(settings: Settings) -> EntitySpec:
    return entity_specs(settings)[ENTITY]
