"""A read-only account is enough to sync an operator's own ERP, on PostgreSQL (a role with
USAGE on the schema and SELECT on its tables) and on MariaDB (a user with SELECT on the
database), its URL and password in `url_file`: a full and an incremental run bring the
rows (compared without syncdeck's code) and `syncdeck sources check` exits 0. What the
account cannot reach is named by `sources check` without the password: an unknown table
is exit 2 with one line naming the entity, the source and the database's message; a port
nobody listens on is exit 3.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support.erpdb import ErpDb, empty_erp
from support.erpsync import Partners, config_text, running, sql_source, sync, wall_now, write_config
from support.procs import cli

pytestmark = pytest.mark.timeout(180)
PASSWORD = "Ro-s3cret-9f2"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SYNCDECK_"):
            monkeypatch.delenv(key)


@pytest.fixture(params=["postgresql", "mariadb"])
def erp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ErpDb]:
    yield from empty_erp(request.param, tmp_path)


def url_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "erp.url"
    path.write_text(url + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def check(env: dict[str, str], data_dir: Path, entities: dict[str, dict[str, object]],
          url: Path) -> tuple[int, list[str]]:  # fmt: skip
    """`syncdeck sources check` on a configuration of `entities` read through `url`."""
    write_config(data_dir, config_text({"erp": sql_source(url_file=url)}, entities))
    result = cli(env, "sources", "check")
    out = result.stdout + result.stderr
    assert "Traceback" not in out and PASSWORD not in out, out
    return result.returncode, out.splitlines()


async def test_a_select_only_account_syncs_and_checks_clean(
    erp: ErpDb, data_dir: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    partners = Partners(erp)
    partners.seed(range(1, 41), wall_now() - timedelta(hours=1))
    url = erp.read_only_url(PASSWORD)
    ro = url_file(tmp_path, url)
    write_config(
        data_dir,
        config_text({"erp": sql_source(url_file=ro)}, {"partners": partners.entity("erp")}),
    )
    async with running(data_dir) as orch:
        await sync(orch, "partners", "full")
        assert Partners.replica(data_dir, "partners") == partners.source()
        partners.seed(range(41, 51), wall_now())
        erp.execute(f"UPDATE {partners.table} SET name = 'renamed', write_date = "
                    f"'{wall_now().isoformat(' ')}' WHERE id = 3")  # fmt: skip
        run = await sync(orch, "partners", "incremental")
    assert (run.counts.inserted, run.counts.updated) == (10, 1)
    assert Partners.replica(data_dir, "partners") == partners.source()
    code, lines = check(cli_env, data_dir, {"partners": partners.entity("erp")}, ro)
    assert code == 0, lines
    assert lines[0].startswith("partners (source erp): ok"), lines
    # The account could not have written: the database refuses it.
    with pytest.raises(Exception, match="denied"):
        if erp.kind == "postgresql":
            import psycopg

            with psycopg.connect(url) as conn:
                conn.execute(f"DELETE FROM {partners.table}")
        else:
            import pymysql

            account = url.split("//")[1].split(":")[0]
            with pymysql.connect(host="127.0.0.1", port=3306, user=account, password=PASSWORD,
                                 database=erp.name) as conn, conn.cursor() as cur:  # fmt: skip
                cur.execute(f"DELETE FROM {partners.table}")


def test_an_unknown_table_is_exit_2_in_one_line_and_a_closed_port_exit_3(
    erp: ErpDb, data_dir: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    partners = Partners(erp)
    partners.seed(range(1, 4), wall_now())
    url = erp.read_only_url(PASSWORD)
    missing = {**partners.entity("erp"), "table": f"{erp.prefix}no_such_table"}
    code, lines = check(cli_env, data_dir, {"ghosts": missing}, url_file(tmp_path, url))
    assert code == 2, lines
    named = [line for line in lines if "no_such_table" in line]
    assert len(named) == 1, lines
    line = named[0]
    assert 'entity "ghosts"' in line and 'sql source "erp"' in line, line
    word = "does not exist" if erp.kind == "postgresql" else "doesn't exist"
    assert word in line, line

    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = url.replace(":5432/", f":{port}/").replace(":3306/", f":{port}/")
    assert f":{port}/" in closed
    code, lines = check(
        cli_env, data_dir, {"partners": partners.entity("erp")}, url_file(tmp_path, closed)
    )
    assert code == 3, lines
    assert lines[0].startswith("partners (source erp): UNREACHABLE"), lines
