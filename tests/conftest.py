"""Shared fixtures: real SQLite stores in temporary data directories, a small real disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from core.config import Settings
from core.orchestrator import Orchestrator
from core.store import SQLiteStore
from core.sync.service import SyncService

REPO = Path(__file__).resolve().parent.parent
SYNCDECK = [sys.executable, "-m", "console"]
"""How tests start the real command line in a subprocess."""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def cli_env(data_dir: Path) -> dict[str, str]:
    """Environment for `syncdeck` subprocesses: this test's data directory, no stray config,
    simulated services (tests of the entity services set SYNCDECK_SOURCE__KIND themselves)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCDECK_")}
    env["SYNCDECK_DATA_DIR"] = str(data_dir)
    env["SYNCDECK_SOURCE__KIND"] = "simulated"  # orchestrator tests: services that only wait
    return env


OrchestratorFactory = Callable[..., Orchestrator]


@pytest.fixture
async def make_orchestrator(data_dir: Path) -> AsyncIterator[OrchestratorFactory]:
    """Build orchestrators on one shared store file; all are stopped at teardown."""
    made: list[Orchestrator] = []

    def factory(
        services: dict[str, SyncService], settings: Settings | None = None, **kwargs: object
    ) -> Orchestrator:
        settings = settings or Settings(data_dir=data_dir)
        orch = Orchestrator(SQLiteStore(data_dir / "syncdeck.db"), services, settings, **kwargs)  # type: ignore[arg-type]
        made.append(orch)
        return orch

    yield factory
    for orch in made:
        await orch.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MB tmpfs as the data directory, unmounted at teardown."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8): the disk-full test cannot run")
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir(mode=0o700)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", str(mountpoint)], check=True
    )
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


@pytest.fixture
def utc() -> Iterator[None]:
    """Clock text (HH:MM:SS in local time) the same on every machine."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()
