"""A rest source's secrets come from a file or the environment when the source is built,
and are never shown; a mistake is one line and exit 2 from the command line, with no
traceback; `sources check` reports a rest entity with the sql check's exit codes.

`sources check` is exercised with a stand-in for `RestSource` (the real one is tested
with its own module): what the check finds becomes exit 0, 2 or 3.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from support.procs import cli
from support.shopconfig import TOKEN, load, shop_config, with_auth, write

import core.sources.rest.source as rest_source
from core.config import ConfigError
from core.errors import SourceError, SourceUnavailable
from core.runtime.checks import check_sources
from core.runtime.services import entity_sources
from core.sources.base import Page
from core.sources.rest.mapping import RestAuth, RestEntity, RestSourceSpec


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
    made = _made_sources(monkeypatch)
    settings = load(tmp_path, text)
    assert TOKEN not in repr(settings)  # only where the secret is, never the secret
    entity_sources(settings)["customers"][1]()
    spec, entities = made[0]
    assert spec.auth == expected
    assert TOKEN not in repr(spec)  # nor where a traceback or a log may print the spec
    assert list(entities) == ["customers"]


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


async def test_sources_check_reports_a_rest_entity_with_the_sql_exit_codes(
    tmp_path: Path, shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    behaviour: dict[str, Any] = {"samples": []}
    _made_sources(monkeypatch, behaviour)
    settings = load(tmp_path, shop)

    behaviour.update(samples=[{"id": 7, "name": "Ada", "email": "a@x", "updated_at": "2026-01-02"
                               "T03:04:05Z"}], notes=["the API sorts as asked"])  # fmt: skip
    (report,) = await check_sources(settings, ["customers"])
    assert report.exit_code == 0, report.text
    assert report.text.splitlines() == [
        "customers (source shop): ok (rest)",
        "  note: the API sorts as asked",
        "  sample: sync_key=7, id=7, name=Ada, email=a@x, updated_at=2026-01-02T03:04:05.000000Z",
    ]
    assert TOKEN not in report.text

    behaviour.update(samples=[{"id": 8, "updated_at": "yesterday"}], notes=[])
    (report,) = await check_sources(settings, ["customers"])
    assert report.exit_code == 2 and "problem: sample row 8: " in report.text, report.text

    behaviour.update(samples=[], problems=["the records are not at `data`"])
    (report,) = await check_sources(settings, ["customers"])
    assert report.exit_code == 2
    assert "  problem: the records are not at `data`" in report.text.splitlines()

    behaviour.update(page=SourceUnavailable("connection refused"))
    (report,) = await check_sources(settings, ["customers"])
    assert report.exit_code == 3
    assert report.text.startswith("customers (source shop): UNREACHABLE"), report.text

    behaviour.update(page=None, check=SourceError("401: the token was refused"))
    (report,) = await check_sources(settings, ["customers"])
    assert report.exit_code == 2 and "401: the token was refused" in report.text


def _made_sources(
    monkeypatch: pytest.MonkeyPatch, behaviour: dict[str, Any] | None = None
) -> list[tuple[RestSourceSpec, dict[str, RestEntity]]]:
    """`RestSource` replaced by a stand-in that records how it was made and answers as
    `behaviour` says (`page`, `check`: an exception to raise; `problems`, `notes`,
    `samples`: what its check finds)."""
    made: list[tuple[RestSourceSpec, dict[str, RestEntity]]] = []
    does = behaviour if behaviour is not None else {}

    class StandIn:
        def __init__(self, spec: RestSourceSpec, entities: Any) -> None:
            made.append((spec, dict(entities)))

        async def page(self, entity: str, since: str | None, token: str | None, limit: int) -> Page:
            if does.get("page") is not None:
                raise does["page"]
            return Page([])

        async def check(self, entity: str) -> Findings:
            if does.get("check") is not None:
                raise does["check"]
            return Findings(does.get("problems", []), does.get("notes", []), does["samples"])

        async def close(self) -> None:
            return None

    monkeypatch.setattr(rest_source, "RestSource", StandIn)
    return made


class Findings(NamedTuple):
    """What the stand-in's check finds, shaped as `RestCheck`."""

    problems: list[str]
    notes: list[str]
    samples: list[dict[str, Any]]
