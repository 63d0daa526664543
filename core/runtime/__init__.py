"""Assembling the core from settings: the one place that picks the store, the replica,
the source and the services.

Everything else receives what it needs (a `Store`, a `Replica`, a source
factory) and never looks at a path or a backend's name. By default both are
SQLite in the data directory, sharing `syncdeck.db`, so other programs find
the replica tables beside the run history. `[store] url` moves the store to
PostgreSQL, and the replica with it (its own tables in the same schema).
`[replica] url` puts the replica in a PostgreSQL database of its own, whichever
the store is. psycopg is imported only when one of them is PostgreSQL, and the
webhook notifications (`core.notify`) only when `[[notify.webhooks]]` are configured.
A test may pass `Hooks` into what is built here; by default there are none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import msgspec

from core.config import ConfigError, Settings, read_secret_file
from core.config.entities import configured_entities
from core.entities import EntitySpec
from core.errors import StoreError
from core.orchestrator import Orchestrator
from core.replica.base import Drift, Replica
from core.replica.sqlite import SQLiteReplica
from core.runtime.plugins import plugin_services
from core.runtime.services import entity_services, entity_sources
from core.store import DB_FILENAME, SQLiteStore, Store
from core.sync.service import SyncService

if TYPE_CHECKING:
    from core.notify import Notifier


class Hooks(msgspec.Struct, frozen=True, kw_only=True):
    """A test's hooks into the store and the services built here; None does nothing.
    (A Struct, not a dataclass: this module is on the way to the console's first frame.)"""

    before_batch_commit: Callable[[int], None] | None = None
    """Told, on a run's worker thread, the number of each batch about to be written
    (`core.sync.engine`)."""
    after_write_begin: Callable[[], None] | None = None
    """A PostgreSQL store calls it inside each write transaction once it has begun."""
    on_open: Callable[[threading.Lock], None] | None = None
    """Told the lock a SQLite store's connection holds for every use, once it is open."""
    on_close: Callable[[threading.Lock], None] | None = None
    """Told the same lock when the connection closes."""


NO_HOOKS = Hooks()


def open_store(settings: Settings, *, hooks: Hooks = NO_HOOKS) -> Store:
    """PostgreSQL when `[store] url` is set (only then is psycopg imported), else SQLite."""
    store = settings.store
    if store.url:
        from core.store.postgres import PostgresStore
        from core.store.postgres.connection import Timeouts

        return PostgresStore(
            store.url,
            schema=store.schema,
            password_file=store.password_file,
            timeouts=Timeouts(
                idle_in_transaction_s=store.idle_in_transaction_timeout_s,
                connect_s=store.connect_timeout_s,
            ),
            after_write_begin=hooks.after_write_begin,
        )
    return SQLiteStore(
        settings.data_dir / DB_FILENAME, on_open=hooks.on_open, on_close=hooks.on_close
    )


def describe_store(settings: Settings) -> str:
    """Where the store is, for a log line: the file, or the database without its password."""
    if settings.store.url:
        from core.store.postgres.connection import redact

        return f"{redact(settings.store.url)} schema {settings.store.schema}"
    return str(settings.data_dir / DB_FILENAME)


def require_store(settings: Settings) -> None:
    """For commands that only read (`status`, `history`, `verify`, a read-only console):
    opening a store creates one, so where there is none they stop before opening it.

    Raises StoreError "no syncdeck store in DIR". A PostgreSQL store is a server's: opening
    it creates only the schema, so nothing is checked here."""
    if not settings.store.url and not (settings.data_dir / DB_FILENAME).is_file():
        raise StoreError(
            f"no syncdeck store in {settings.data_dir} (check --data-dir or "
            "SYNCDECK_DATA_DIR; a command that changes something, such as `syncdeck sync` "
            "or `syncdeck daemon`, creates one)"
        )


def open_replica(settings: Settings) -> Replica:
    """The replica; nothing is opened until a sync or `verify` opens a target.

    PostgreSQL at `[replica] url`, else in the store's database when `[store] url` is
    set (with the store's password file), else SQLite beside the store."""
    replica, store = settings.replica, settings.store
    url = replica.url or store.url
    builtin = configured_entities(settings.entities)[0]
    if url:
        from core.replica.postgres import PostgresReplica

        password_file = replica.password_file
        if password_file is None and not replica.url:
            password_file = store.password_file
        shares_store = bool(store.url) and (not replica.url or replica.url == store.url)
        return PostgresReplica(
            url,
            replica.schema or store.schema,
            password_file=password_file,
            lease_schema=store.schema if shares_store else None,
            builtin=builtin,
        )
    return SQLiteReplica(
        settings.data_dir / DB_FILENAME, shares_store=not store.url, builtin=builtin
    )


def load_services(settings: Settings, *, hooks: Hooks = NO_HOOKS) -> dict[str, SyncService]:
    """The built-in services, then the plugins' (a plugin may replace a built-in one).

    Raises ConfigError for a plugin whose service is not named as its entry point (the
    configuration checked `[services.NAME]` against those names)."""
    return {
        **entity_services(settings, open_replica(settings), hooks.before_batch_commit),
        **plugin_services(settings),
    }


def check_replica(settings: Settings) -> None:
    """Bring the configured entities' replica tables in line with their mappings: added
    columns are added; a removed, renamed or retyped one raises ConfigError, one line per
    column with the command that rebuilds its table, and nothing is changed. The
    replica's database errors are a StoreError."""
    specs = list(configured_specs(settings).values())
    if not specs:
        return
    replica = open_replica(settings)
    try:
        problems = replica.evolve(specs)
    except StoreError:
        raise
    except Exception as exc:  # the replica's database: unreachable, locked, damaged
        raise StoreError(f"the replica cannot be checked against the configuration: {exc}") from exc
    if problems:
        raise ConfigError(
            "the replica does not fit the configuration:\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )


def rebuild_replica_table(settings: Settings, name: str) -> None:
    """Drop a configured entity's replica tables and its bookkeeping: they are made anew,
    and its next run is a full one. Raises LookupError for a name that is not one."""
    spec = configured_specs(settings).get(name)
    if spec is None:
        raise LookupError(f"{name!r} is not a configured entity ([entities.NAME])")
    open_replica(settings).rebuild(spec)


def configured_specs(settings: Settings) -> dict[str, EntitySpec]:
    """The replica specs of the operator's own entities; none are built (and nothing of
    theirs imported) when the configuration has none, as on the way to a first frame."""
    _, own = configured_entities(settings.entities)
    if not own:
        return {}
    from core.runtime.entities import configured_spec

    return {name: configured_spec(name, entity, settings) for name, entity in own.items()}


def build_notifier(settings: Settings) -> Notifier | None:
    """The webhook notifications of `[[notify.webhooks]]` (None without any); only then is
    `core.notify` imported. Raises ConfigError naming the key when a `url_file` cannot be
    read or holds no http(s) URL (the URL itself is never shown)."""
    if not settings.notify.webhooks:
        return None
    from core.config.notify import is_http_url
    from core.notify import Notifier, Webhook

    webhooks = []
    for index, config in enumerate(settings.notify.webhooks):
        name = f"notify.webhooks[{index}]"
        url = config.url
        if config.url_file is not None:
            url = read_secret_file(config.url_file, f"{name}.url_file")
            if not is_http_url(url):
                raise ConfigError(
                    f"{name}.url_file {config.url_file}: not an http:// or https:// URL"
                )
        assert url is not None  # validated: url or url_file
        webhooks.append(
            Webhook(
                name=name,
                url=url,
                format=config.format,
                timeout_s=config.timeout_s,
                tries=config.tries,
            )
        )
    return Notifier(webhooks)


def build_orchestrator(
    settings: Settings, *, runner: bool, schedule: bool | None = None, hooks: Hooks = NO_HOOKS
) -> Orchestrator:
    """An orchestrator on the configured store; `runner=False` for clients such as the CLI.
    A runner first checks the replica against the configuration (`check_replica`), and
    holds the webhook notifications (`build_notifier`): it alone sends them."""
    if runner:
        check_replica(settings)
    return Orchestrator(
        open_store(settings, hooks=hooks),
        load_services(settings, hooks=hooks),
        settings,
        runner=runner,
        schedule=runner if schedule is None else schedule,
        listener=build_notifier(settings) if runner else None,
    )


def entity_names(settings: Settings, *, real_only: bool = False) -> list[str]:
    """The entities this configuration syncs; `real_only` leaves out the built-in ones
    when they are simulated (nothing to compare). Raises ConfigError as `entity_sources`."""
    simulated = settings.source.kind == "simulated"
    return [
        name
        for name, (spec, _) in entity_sources(settings).items()
        if not (real_only and simulated and spec.source is None)
    ]


async def verify_replica(settings: Settings, names: Iterable[str]) -> list[Drift]:
    """Compare each named entity's replica with a full listing of its source. Raises
    KeyError for a name that is not an entity; source errors and the replica's database
    errors propagate."""
    from core.sync.verify import verify_entity

    sources = entity_sources(settings)
    chosen = [sources[name] for name in names]
    replica = open_replica(settings)
    reports = []
    for spec, make_source in chosen:
        source = make_source()
        try:
            reports.append(await verify_entity(spec, source, replica))
        finally:
            await source.close()
    return reports
