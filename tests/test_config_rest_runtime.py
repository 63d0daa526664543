"""A rest source's secrets come from a file or the environment when the source is built,
and are never shown; a mistake is one line and exit 2 from the command line, with no
traceback; `sources check` reports a rest entity with the sql check's exit codes.

`sources check` runs against json-server (`support.jsonserver`).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from support.erpsync import config_text
from support.jsonserver import missing_reason, running_json_server
from support.procs import cli
from support.restshop import customer, rest_source, shop_entity
from support.shopconfig import TOKEN, load, shop_config, with_auth, write

from core.config import ConfigError
from core.runtime.services import entity_sources
from core.sources.rest.mapping import RestAuth
from core.sources.rest.source import RestSource


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SYNCDECK_") or key.startswith("SHOP_"):
            monkeypatch.delenv(key)


@pytest.fixture
def shop(tmp_path: Path) -> str:
    """The issue's configuration, its token in a file of this test's."""
    return shop_config(tmp_path)


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (
            '{ kind = "bearer", token_env = "SHOP_TOKEN" }',
            RestAuth(kind="bearer", token=TOKEN),
        ),
        (
            '{ kind = "basic", username = "sync", password_file = "SECRET_FILE" }',
            RestAuth(kind="basic", username="sync", password=TOKEN),
        ),
        (
            '{ kind = "api_key", name = "X-Key", in = "query", value_env = "SHOP_TOKEN" }',
            RestAuth(kind="api_key", name="X-Key", location="query", value=TOKEN),
        ),
        (
            '{ kind = "oauth2_client_credentials", token_url = "https://id.example/token", '
            'client_id = "syncdeck", client_secret_file = "SECRET_FILE", scope = "read" }',
            RestAuth(
                kind="oauth2_client_credentials",
                token_url="https://id.example/token",
                client_id="syncdeck",
                client_secret=TOKEN,
                scope="read",
            ),
        ),
    ],
)
def test_each_auth_kind_reads_its_secret_when_the_source_is_built(
    tmp_path: Path,
    shop: str,
    monkeypatch: pytest.MonkeyPatch,
    auth: str,
    expected: RestAuth,
) -> None:
    secret = tmp_path / "secret"
    secret.write_text(TOKEN + "\n", encoding="utf-8")
    monkeypatch.setenv("SHOP_TOKEN", TOKEN)
    text = with_auth(shop, auth.replace("SECRET_FILE", str(secret)))
    settings = load(tmp_path, text)
    assert TOKEN not in repr(settings)  # only where the secret is, never the secret
    made = entity_sources(settings)["customers"][1]()
    try:
        assert isinstance(made, RestSource)
        assert made.spec.auth == expected
        assert TOKEN not in repr(made.spec)  # nor where a traceback or a log may print it
        assert list(made.entities) == ["customers"]
    finally:
        asyncio.run(made.close())


def test_a_missing_secret_names_its_key_and_shows_no_secret(
    tmp_path: Path, shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    unset = with_auth(shop, '{ kind = "bearer", token_env = "SHOP_TOKEN" }')
    with pytest.raises(ConfigError, match=r"sources\.shop\.auth\.token_env: .*SHOP_TOKEN is not"):
        entity_sources(load(tmp_path, unset))
    (tmp_path / "shop.token").unlink()
    with pytest.raises(ConfigError, match=r"sources\.shop\.auth\.token_file .*shop\.token"):
        entity_sources(load(tmp_path, shop))


def test_the_command_line_says_it_in_one_line_and_exit_2(
    tmp_path: Path, shop: str, cli_env: dict[str, str], data_dir: Path
) -> None:
    config = write(tmp_path, shop.replace('kind = "link_header"', 'kind = "scroll"'))
    for command in (["sources", "check"], ["status"]):
        result = cli(cli_env, "--config", str(config), *command)
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr and TOKEN not in result.stdout + result.stderr
        assert result.stderr.count("entities.customers.pagination.kind: Invalid enum") == 1
        assert len(result.stderr.strip().splitlines()) == 2, result.stderr  # heading, line
    unset = with_auth(shop, '{ kind = "bearer", token_env = "SHOP_TOKEN" }')
    result = cli(cli_env, "--config", str(write(tmp_path, unset)), "sources", "check")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "sources.shop.auth.token_env: the environment variable SHOP_TOKEN" in result.stderr
    assert list(data_dir.iterdir()) == []


def test_sources_check_reports_a_rest_entity_with_the_sql_exit_codes(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """Against json-server: a mapping that fits (exit 0, three sample rows), one whose
    records are elsewhere or whose cursor does not parse (exit 2), an API that does not
    answer (exit 3)."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    seeded = [customer(i) for i in range(1, 8)]
    with running_json_server(tmp_path / "shop", {"customers": seeded}) as server:

        def check(**changes: Any) -> tuple[int, str]:
            entity = {**shop_entity("page"), **changes}
            text = config_text({"shop": rest_source(server.url)}, {"customers": entity})
            result = cli(cli_env, "--config", str(write(tmp_path, text)), "sources", "check")
            assert "Traceback" not in result.stderr
            return result.returncode, result.stdout + result.stderr

        code, out = check()
        assert code == 0, out
        assert out.splitlines()[0] == "customers (source shop): ok (rest)"
        assert sum(line.startswith("  sample: sync_key=") for line in out.splitlines()) == 3
        assert "email=c1.v0@shop.example" in out

        server.update("customers", 7, {"updated_at": "yesterday"})
        code, out = check()
        assert code == 2 and "'yesterday'" in out, out

        code, out = check(records="data")
        assert code == 2 and "  problem: " in out and "data" in out, out

        code, out = check(map={"email": "contact.mail"})
        assert code == 2 and "contact.mail" in out, out

        code, out = check(sort={"_sort": "updated_at", "_order": "desc"})  # not what sort says
        assert code == 2 and "order" in out, out

        port = server.port
    text = config_text({"shop": rest_source(f"http://127.0.0.1:{port}/")},
                       {"customers": shop_entity("page")})  # fmt: skip
    result = cli(cli_env, "--config", str(write(tmp_path, text)), "sources", "check")
    assert result.returncode == 3, result
    assert result.stdout.startswith("customers (source shop): UNREACHABLE"), result.stdout
