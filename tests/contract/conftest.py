"""Fixtures for the store backends: one `store_factory` per backend, PostgreSQL databases.

`store_factory` is parametrised over `backends.BACKENDS`; a test that asks for
it (or for `store`, `backend`) runs once per backend. PostgreSQL parameters
skip, saying why, when no server is reachable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from support.clock import ManualClock

from contract.backends import (
    BACKENDS,
    T0,
    Backend,
    PostgresBackend,
    SQLiteBackend,
    StoreFactory,
    create_database,
    drop_database,
    make_template,
    new_db_name,
    postgres_unavailable,
)
from core.entities import BUILTIN_PRIORITIES
from core.store import Store


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """The migrated template database, made once per test session."""
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    name = make_template()
    yield name
    drop_database(name)


@pytest.fixture
def pg_database(pg_template: str) -> Iterator[str]:
    """A database of this test's own, copied from the template, dropped afterwards."""
    name = new_db_name("test")
    create_database(name, template=pg_template)
    yield name
    drop_database(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, data_dir: Path) -> Backend:
    if request.param == "sqlite":
        return SQLiteBackend(data_dir)
    return PostgresBackend(request.getfixturevalue("pg_database"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def store_factory(backend: Backend) -> AsyncIterator[StoreFactory]:
    """`store_factory(clock=None)`: a new, unopened store on this test's storage (every call
    the same storage); each is closed at teardown."""
    made: list[Store] = []

    def factory(clock: Callable[[], float] | None = None) -> Store:
        made.append(backend.store(clock))
        return made[-1]

    yield factory
    for store in made:
        await store.close()


@pytest.fixture
async def store(store_factory: StoreFactory, clock: ManualClock) -> Store:
    """An open store on the manual clock, the built-in services registered."""
    s = store_factory(clock)
    await s.open()
    await s.register_services(dict(BUILTIN_PRIORITIES))
    return s
