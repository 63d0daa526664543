"""A PostgreSQL cluster of a test's own: `initdb` into a temporary directory, started and
stopped with `pg_ctl`, so that a test may restart or kill the server under syncdeck.

The server runs as the `postgres` user (initdb refuses root), with trust authentication,
listening on the addresses given. `PgCluster.available()` says why not, when it is not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

BIN = Path("/usr/lib/postgresql/15/bin")


class PgCluster:
    """One throwaway cluster; `stop()` is safe to call twice."""

    def __init__(self, root: Path, port: int, listen: str = "127.0.0.1") -> None:
        self.root = root
        self.data = root / "pgdata"
        self.port = port
        self.listen = listen
        self.log = root / "postgres.log"

    @classmethod
    def temporary(cls, port: int, listen: str = "127.0.0.1") -> PgCluster:
        """A cluster in a fresh directory the postgres user can reach (pytest's are 0700)."""
        return cls(Path(tempfile.mkdtemp(prefix="syncdeck-pg-")), port, listen)

    def destroy(self) -> None:
        """Stop the server at once and remove its files."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    @staticmethod
    def available() -> str | None:
        """None, or why no cluster can be made here."""
        if not (BIN / "initdb").exists():
            return f"no PostgreSQL binaries in {BIN}"
        if shutil.which("runuser") is None or os.geteuid() != 0:
            return "making a cluster needs root and runuser (to run as postgres)"
        return None

    def _as_postgres(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(
            str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N"
        )
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write("host all all 0.0.0.0/0 trust\n")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses={self.listen} -c fsync=off"
        self._as_postgres(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            opts,
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, db: str = "postgres", host: str = "127.0.0.1") -> str:
        return f"postgresql://postgres@{host}:{self.port}/{db}"

    def createdb(self, name: str) -> None:
        self._as_postgres(
            str(BIN / "createdb"),
            "-h",
            str(self.root),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            name,
        )


@contextmanager
def running_cluster(port: int, listen: str = "127.0.0.1") -> Iterator[PgCluster]:
    """A started throwaway cluster with an empty database `syncdeck`, destroyed after;
    the test skips, saying why, where initdb cannot run."""
    why = PgCluster.available()
    if why is not None:
        pytest.skip(why)
    pg = PgCluster.temporary(port, listen)
    try:
        pg.init()
        pg.start()
        pg.createdb("syncdeck")
        yield pg
    finally:
        pg.destroy()


def rows(url: str, sql: str, *args: Any, schema: str = "syncdeck") -> list[tuple[Any, ...]]:
    """What one statement returns, read in the store's schema on a connection of its own."""
    with psycopg.connect(url, autocommit=True, options=f"-c search_path={schema}") as conn:
        return conn.execute(sql, args).fetchall()
