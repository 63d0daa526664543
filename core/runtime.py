"""Assembling the core from settings: the one place that picks a store and services."""

from __future__ import annotations

from core.config import Settings
from core.orchestrator import Orchestrator
from core.services.registry import load_services
from core.store import DB_FILENAME, SQLiteStore, Store


def open_store(settings: Settings) -> Store:
    if settings.store.url:  # only then is psycopg imported
        from core.store.postgres import PostgresStore

        return PostgresStore(
            settings.store.url,
            schema=settings.store.schema,
            password_file=settings.store.password_file,
        )
    return SQLiteStore(settings.data_dir / DB_FILENAME)


def build_orchestrator(
    settings: Settings, *, runner: bool, schedule: bool | None = None
) -> Orchestrator:
    """An orchestrator on the configured store; `runner=False` for clients such as the CLI."""
    return Orchestrator(
        open_store(settings),
        load_services(settings),
        settings,
        runner=runner,
        schedule=runner if schedule is None else schedule,
    )
