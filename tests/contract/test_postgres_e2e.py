"""syncdeck on PostgreSQL, end to end: the real `syncdeck daemon` and CLI, the store and the
replica in a database of the test's own, the demo ERP as the source.

A full sync of every entity, then an incremental one after a few records changed in the
ERP, and `syncdeck verify` finds the replica clean; a row removed behind syncdeck's back is
then reported as drift. The replica's tables are read back with plain SQL, and nothing is
written to a SQLite store in the data directory. The replica-level promises are the replica
contract suite's (`test_replica_contract.py`, which runs on PostgreSQL too).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import REPO, SYNCDECK

from contract.backends import SCHEMA, pg_url
from core.config import ConfigError, Settings
from core.demo import DEMO_FILENAME, DemoERP
from core.demo.generation import BASE_EPOCH, ROWS_PER_SECOND, iso
from core.entities import ENTITIES
from core.replica.postgres import PostgresReplica
from core.replica.schema import SCHEMA_VERSION as REPLICA_SCHEMA_VERSION
from core.replica.sqlite import SQLiteReplica
from core.runtime import open_replica

SIZES = {"customers": 30, "products": 40, "prices": 20, "orders": 25}


@pytest.fixture
def env(cli_env: dict[str, str], pg_database: str) -> dict[str, str]:
    return {
        **cli_env,
        "SYNCDECK_STORE__URL": pg_url(pg_database),
        "SYNCDECK_SOURCE__KIND": "demo",
        "SYNCDECK_SCHEDULE__ENABLED": "false",
        "SYNCDECK_DEMO__CHANGES_PER_MINUTE": "0",
        "SYNCDECK_SYNC__BATCH_SIZE": "7",  # several batches per entity
        **{f"SYNCDECK_DEMO__SIZES__{k.upper()}": str(v) for k, v in SIZES.items()},
    }


@pytest.fixture
def daemon(env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*SYNCDECK, "daemon"], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while "syncdeck daemon" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the daemon did not start"
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def syncdeck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SYNCDECK, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=90
    )


def synced(env: dict[str, str], name: str, mode: str) -> dict[str, Any]:
    """`syncdeck sync NAME --wait`: the run's counts once it succeeded."""
    result = syncdeck(env, "sync", name, "--mode", mode, "--wait", "--timeout", "60", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    waited = json.loads(result.stdout)
    assert waited["outcome"] == "succeeded", waited
    counts: dict[str, Any] = waited["run"]["counts"]
    return counts


def replica(env: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    url = env["SYNCDECK_STORE__URL"]
    with psycopg.connect(url, autocommit=True, options=f"-c search_path={SCHEMA}") as conn:
        return conn.execute(sql).fetchall()


def test_daemon_syncs_the_demo_erp_into_postgres_and_verify_agrees(
    env: dict[str, str], daemon: subprocess.Popen[bytes], data_dir: Path
) -> None:
    for name, size in SIZES.items():
        counts = synced(env, name, "full")
        assert (counts["fetched"], counts["inserted"], counts["rejected"]) == (size, size, 0)
        assert replica(env, f"SELECT count(*) FROM {name} WHERE deleted_at IS NULL") == [(size,)]
    ((lines,),) = replica(env, "SELECT count(*) FROM order_lines")
    assert lines > 0
    ((version,),) = replica(env, "SELECT schema_version FROM replica_meta")
    assert version == REPLICA_SCHEMA_VERSION

    # Two customers and a product change in the ERP, after everything else there.
    erp = DemoERP(data_dir / DEMO_FILENAME, changes_per_minute=0)
    stamp = iso(BASE_EPOCH + max(SIZES.values()) // ROWS_PER_SECOND + 3600)
    try:
        customers = list(erp.iter_all("customers"))[:2]
        erp.upsert(
            "customers", [{**c, "name": f"{c['name']} II", "updated_at": stamp} for c in customers]
        )
        product = next(iter(erp.iter_all("products")))
        erp.upsert("products", [{**product, "weight_kg": 99.5, "updated_at": stamp}])
    finally:
        erp.close()
    counts = synced(env, "customers", "incremental")
    assert (counts["updated"], counts["inserted"], counts["deleted"]) == (2, 0, 0)
    assert counts["fetched"] < SIZES["customers"]
    counts = synced(env, "products", "incremental")
    assert (counts["updated"], counts["inserted"]) == (1, 0)
    key = ENTITIES["products"].key
    assert replica(
        env, f"SELECT weight_kg, updated_at FROM products WHERE {key} = '{product[key]}'"
    ) == [(99.5, stamp)]
    ((cursor,),) = replica(env, "SELECT cursor FROM sync_state WHERE entity = 'customers'")
    assert cursor == stamp

    clean = syncdeck(env, "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "DRIFT" not in clean.stdout
    for name in SIZES:
        assert any(line.split()[:2] == [name, "in"] for line in clean.stdout.splitlines()), clean

    # A row deleted behind syncdeck's back is drift (one the cursor covers: rows changed at or
    # after it are pending, not drift).
    ((gone,),) = replica(
        env, f"SELECT id FROM customers WHERE updated_at < '{stamp}' ORDER BY id LIMIT 1"
    )
    with psycopg.connect(env["SYNCDECK_STORE__URL"], autocommit=True) as conn:
        conn.execute(f"DELETE FROM {SCHEMA}.customers WHERE id = %s", (gone,))
    drift = syncdeck(env, "verify", "customers")
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert f"missing: {gone}" in drift.stdout, drift.stdout

    # Everything went to PostgreSQL: no SQLite store or replica in the data directory.
    assert not (data_dir / "syncdeck.db").exists()
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(timeout=15) == 0


def test_the_runtime_places_the_replica_beside_the_store_unless_told(tmp_path: Path) -> None:
    assert isinstance(open_replica(Settings(data_dir=tmp_path)), SQLiteReplica)
    secret = tmp_path / "password"
    store = {"url": "postgresql://app@db.example/erp", "schema": "sd", "password_file": secret}
    beside = open_replica(Settings.from_values(data_dir=tmp_path, store=store))
    assert isinstance(beside, PostgresReplica)
    assert (beside.url, beside.schema) == (store["url"], "sd")
    assert beside._password_file == secret  # the store's database: the store's password
    elsewhere = open_replica(
        Settings.from_values(
            data_dir=tmp_path, store=store, replica={"url": "postgresql://bi@warehouse/bi"}
        )
    )
    assert isinstance(elsewhere, PostgresReplica)
    assert (elsewhere.url, elsewhere.schema, elsewhere._password_file) == (
        "postgresql://bi@warehouse/bi",
        "sd",
        None,
    )
    own = open_replica(
        Settings.from_values(
            data_dir=tmp_path, replica={"url": "postgresql://bi@warehouse/bi", "schema": "erp"}
        )
    )
    assert isinstance(own, PostgresReplica) and own.schema == "erp"
    with pytest.raises(ConfigError, match=r"replica\.url"):
        Settings.from_values(replica={"url": "mysql://x"})
    with pytest.raises(ConfigError, match=r"replica\.schema"):
        Settings.from_values(replica={"schema": "Bad-Name"})
