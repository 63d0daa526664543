"""`[sources.NAME] kind = "rest"` and its entities: the issue's configuration loads and maps
to what the rest source reads; every mistake is exactly one line naming its key, exit 2
from the command line with no traceback; a secret comes from a file or the environment
and is never shown; a sql source's entities keep their fingerprint.

`sources check` on a rest entity is exercised with a stand-in for `RestSource` (the real
one is tested with its own module): what the check finds becomes exit 0, 2 or 3.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from support.procs import cli

import core.sources.rest.source as rest_source
from core.config import ConfigError, Settings, load_settings
from core.entities import SYNC_KEY, SYNC_PARENT
from core.errors import SourceError, SourceUnavailable
from core.runtime.checks import check_sources
from core.runtime.entities import entity_specs, rest_mapping
from core.runtime.services import entity_sources
from core.sources.base import Page
from core.sources.rest.mapping import (
    Incremental,
    Pagination,
    RestAuth,
    RestColumn,
    RestEntity,
    RestSourceSpec,
)

TOKEN = "tok-9f2e-s3cret"

SHOP = """\
[entities]
builtin = false

[sources.shop]
kind = "rest"
base_url = "https://shop.example/api/v2/"
auth = { kind = "bearer", token_file = "TOKEN_FILE" }
timeout_s = 30
rate_limit_per_s = 5
headers = { Accept = "application/json" }
timezone = "Europe/Rome"

[entities.customers]
source = "shop"
path = "customers"
records = "data"
key = "id"
cursor = "updated_at"
columns = { id = "integer", name = "text", email = "text", updated_at = "timestamp" }
map = { email = "contact.email" }
params = { status = "any", limit = 250, archived = false }
sort = { order_by = "updated_at" }
pagination = { kind = "link_header" }
incremental = { param = "updated_at_min", inclusive = true }
lookback_s = 60

[entities.orders]
source = "shop"
path = "orders"
key = "id"
cursor = "changed"
columns = { id = "integer", changed = "timestamp", total = "decimal" }
pagination = { kind = "page", param = "page", size_param = "n", size = 100, total_path = "total" }
incremental = { param = "since", inclusive = false, format = "unix" }
item_path = "orders/{id}"

[entities.orders.child]
name = "order_lines"
field = "lines"
parent = "order_id"
key = ["order_id", "sku"]
columns = { order_id = "integer", sku = "text", qty = "decimal" }
map = { sku = "product.sku" }
"""

ERP = """\
[sources.erp]
kind = "sql"
url = "postgresql://erp@127.0.0.1/erp"
timezone = "Europe/Rome"

[entities.partners]
source = "erp"
table = "res_partner"
key = "id"
cursor = "write_date"
lookback_s = 60
columns = { id = "integer", name = "text", credit_limit = "decimal", write_date = "timestamp" }
map = { name = "lower(name)" }

[entities.invoices]
source = "erp"
table = "account_move"
key = "id"
cursor = "write_date"
columns = { id = "integer", write_date = "timestamp" }

[entities.invoices.child]
name = "invoice_lines"
table = "account_move_line"
parent = "move_id"
key = ["move_id", "sequence"]
columns = { move_id = "integer", sequence = "integer", qty = "decimal" }
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SYNCDECK_") or key.startswith("SHOP_"):
            monkeypatch.delenv(key)


@pytest.fixture
def shop(tmp_path: Path) -> str:
    """The issue's configuration, its token in a file of this test's."""
    token = tmp_path / "shop.token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    token.chmod(0o600)
    return SHOP.replace("TOKEN_FILE", str(token))


def load(tmp_path: Path, text: str) -> Settings:
    return load_settings(_write(tmp_path, text), tmp_path / "data")


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("invalid configuration")
    return [line.strip() for line in lines[1:]]


def test_the_issues_configuration_loads_as_the_rest_source_reads_it(
    tmp_path: Path, shop: str
) -> None:
    settings = load(tmp_path, shop)
    assert settings.sources["shop"].kind == "rest"
    specs = entity_specs(settings)
    customers = specs["customers"]
    assert customers.columns == (SYNC_KEY, "id", "name", "email", "updated_at")
    assert customers.zone == "Europe/Rome" and customers.lookback_s == 60
    mapping = rest_mapping(customers, settings.entities["customers"])  # type: ignore[arg-type]
    assert mapping == RestEntity(
        name="customers",
        path="customers",
        records="data",
        columns=(
            RestColumn("id", "id"),
            RestColumn("name", "name"),
            RestColumn("email", "contact.email"),
            RestColumn("updated_at", "updated_at"),
        ),
        key=("id",),
        cursor="updated_at",
        cursor_kind="timestamp",
        params={"status": "any", "limit": "250", "archived": "false"},
        sort={"order_by": "updated_at"},
        pagination=Pagination(kind="link_header"),
        incremental=Incremental(param="updated_at_min", inclusive=True, format="iso"),
    )


def test_a_child_array_keeps_its_declared_columns_as_a_sql_child_does(
    tmp_path: Path, shop: str
) -> None:
    settings = load(tmp_path, shop)
    orders = entity_specs(settings)["orders"]
    assert orders.columns == (SYNC_KEY, "id", "total", "changed")  # the cursor last
    assert orders.lookback_s == 1.0  # exclusive filter, no lookback_s: ties are read again
    child = orders.child
    assert child is not None and child.parent_column == SYNC_PARENT  # as for sql
    assert child.fields == (("order_id", "integer"), ("sku", "text"), ("qty", "decimal"))
    mapping = rest_mapping(orders, settings.entities["orders"])  # type: ignore[arg-type]
    assert mapping.pagination == Pagination(
        kind="page", param="page", size_param="n", size=100, total_path="total"
    )
    assert mapping.item_path == "orders/{id}"
    assert mapping.incremental == Incremental(param="since", inclusive=False, format="unix")
    assert mapping.child is not None
    assert mapping.child.field == "lines" and mapping.child.parent == "order_id"
    assert [(c.name, c.path) for c in mapping.child.columns] == [
        ("order_id", "order_id"),
        ("sku", "product.sku"),
        ("qty", "qty"),
    ]
    assert mapping.child.key == ("order_id", "sku")


def test_an_explicit_lookback_and_an_inclusive_filter_keep_theirs(
    tmp_path: Path, shop: str
) -> None:
    given = shop.replace('format = "unix" }', 'format = "unix" }\nlookback_s = 5')
    assert entity_specs(load(tmp_path, given))["orders"].lookback_s == 5
    inclusive = shop.replace("inclusive = false", "inclusive = true")
    assert entity_specs(load(tmp_path, inclusive))["orders"].lookback_s == 0


def test_sql_entities_keep_the_fingerprint_they_had_before_rest_sources(tmp_path: Path) -> None:
    """Measured on the commit before rest sources: a new release must not make every sql
    entity's next auto run a full one."""
    specs = entity_specs(load(tmp_path, ERP))
    assert specs["partners"].mapping_version == 1670029235
    assert specs["invoices"].mapping_version == 478057750


def test_a_changed_rest_mapping_changes_the_fingerprint(tmp_path: Path, shop: str) -> None:
    before = entity_specs(load(tmp_path, shop))["customers"].mapping_version
    moved = shop.replace('"contact.email"', '"contact.mail"')
    after = entity_specs(load(tmp_path, moved))["customers"].mapping_version
    assert before != after


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('kind = "rest"', 'kind = "soap"'), "sources.shop.kind: Invalid enum value 'soap'"),
        (('kind = "rest"\n', ""), "sources.shop.kind: missing"),
        (("https://shop.example/api/v2/", "ftp://shop"), "sources.shop.base_url: must be an"),
        (('timezone = "Europe/Rome"', 'timezone = "Mars/Olympus"'), "sources.shop.timezone:"),
        (("rate_limit_per_s = 5", "rate_limit_per_s = 0"), "sources.shop.rate_limit_per_s:"),
        (("timeout_s = 30", "timeout_s = 30\nretries = 2"), "sources.shop.retries: unknown"),
        (("timeout_s = 30", "timeout_s = 30\nmax_retry_after_s = -1"), "sources.shop.max_retry"),
        (('kind = "bearer"', 'kind = "digest"'), "sources.shop.auth.kind: Invalid enum value"),
        (('token_file = "', 'token_env = "SHOP_TOKEN", token_file = "'), "sources.shop.auth: give"),
        (('token_file = "', 'username = "u", token_file = "'), "sources.shop.auth.username: not a"),
        (('token_file = "', 'token = "abc", token_file = "'), "sources.shop.auth.token: a secret"),
        (
            ('kind = "bearer", token_file', 'kind = "basic", password_file'),
            "sources.shop.auth.username: missing",
        ),
        (
            ('kind = "bearer", token_file', 'kind = "api_key", name = "k", in = "x", value_file'),
            "sources.shop.auth.in: Invalid enum value 'x'",
        ),
        (
            ('kind = "bearer", token_file', 'kind = "api_key", name = "key", value_file'),
            "",  # valid: `in` defaults to header
        ),
        (
            (
                'kind = "bearer", token_file',
                'kind = "oauth2_client_credentials", client_id = "c", client_secret_file',
            ),
            "sources.shop.auth.token_url: missing",
        ),
        (('path = "customers"', 'path = "c"\ntable = "c"'), "entities.customers.table: not for"),
        (('path = "customers"', 'path = "customers"\nquery = "SELECT 1"'), "entities.customers.q"),
        (('path = "customers"\n', ""), "entities.customers.path: missing"),
        (('records = "data"', 'records = "data..list"'), "entities.customers.records: 'data..l"),
        (('"contact.email"', '"contact..email"'), "entities.customers.map.email: 'contact..email'"),
        (('{ kind = "link_header" }', '{ kind = "scroll" }'), "entities.customers.pagination.kind"),
        (('pagination = { kind = "link_header" }\n', ""), "entities.customers.pagination: missing"),
        (
            ('{ kind = "link_header" }', '{ kind = "cursor", path = "next" }'),
            "entities.customers.pagination.param: missing: cursor pagination needs it",
        ),
        (
            ('{ kind = "link_header" }', '{ kind = "link_header", size = 50 }'),
            "entities.customers.pagination.size: not a key of link_header pagination",
        ),
        (
            ('{ kind = "link_header" }', '{ kind = "next_url", path = "links..next" }'),
            "entities.customers.pagination.path: 'links..next' is not a dotted path",
        ),
        (
            ("total_path", 'last_page_path = "meta.pages", total_path'),
            "entities.orders.pagination: give at most one of total_path and last_page_path",
        ),
        (("size = 100", "size = 0"), "entities.orders.pagination.size: must be greater"),
        (
            ('param = "updated_at_min", inclusive = true', "inclusive = true"),
            "entities.customers.incremental.param: missing",
        ),
        (('format = "unix"', 'format = "rfc"'), "entities.orders.incremental.format: 'rfc'"),
        (
            ('format = "unix" }', 'format = "unix" }\nlookback_s = 0'),
            "entities.orders.lookback_s: 0 with an exclusive filter",
        ),
        (('status = "any"', 'updated_at_min = "x"'), "entities.customers.params.updated_at_min"),
        (('order_by = "updated_at"', 'status = "x"'), "entities.customers.sort.status: also in"),
        (('"orders/{id}"', '"orders/{code}"'), "entities.orders.item_path: {code} is not a key"),
        (('"orders/{id}"', '"orders/{id!r}"'), "entities.orders.item_path: {id}: plain"),
        (('"orders/{id}"', '"orders/{id"'), "entities.orders.item_path: 'orders/{id' is not"),
        (('"orders/{id}"', '"orders"'), "entities.orders.item_path: names no {id}"),
        (('field = "lines"\n', ""), "entities.orders.child.field: missing"),
        (
            ('field = "lines"', 'field = "lines"\ntable = "t"'),
            "entities.orders.child.table: not for",
        ),
        (('sku = "product.sku"', 'order_id = "x"'), "entities.orders.child.map.order_id: the pa"),
        (('order_id = "integer", sku', 'order_id = "text", sku'), "entities.orders.child.columns"),
        (('parent = "order_id"', 'parent = "order"'), "entities.orders.child.parent: 'order'"),
        (("lookback_s = 60", 'lookback_s = 60\nhorizon = "xmin"'), "entities.customers.horizon"),
    ],
)
def test_every_rest_mistake_is_exactly_one_line_naming_its_key(
    tmp_path: Path, shop: str, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in shop
    text = shop.replace(old, new, 1)
    if not expected:
        load(tmp_path, text)
        return
    found = problems(tmp_path, text)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_filter_that_needs_a_time_cursor_says_so(tmp_path: Path, shop: str) -> None:
    by_id = shop.replace('cursor = "changed"', 'cursor = "id"')
    assert problems(tmp_path, by_id) == [
        "entities.orders.incremental.format: writes a time; the cursor is integer",
        "entities.orders.incremental.inclusive: false needs a timestamp or date cursor (a "
        "lookback re-reads the rows at the stored cursor); with a integer cursor they would "
        "be lost",
    ]
    inclusive = by_id.replace('inclusive = false, format = "unix"', "inclusive = true")
    entity_specs(load(tmp_path, inclusive))  # an integer cursor with a >= filter is fine


@pytest.mark.parametrize(
    ("added", "expected"),
    [
        ('path = "partners"', "entities.partners.path: only an entity of a rest source"),
        ('pagination = { kind = "none" }', "entities.partners.pagination: only an entity"),
        ('incremental = { param = "since" }', "entities.partners.incremental: only an entity"),
        ('params = { a = "b" }', "entities.partners.params: only an entity of a rest source"),
        ('item_path = "x/{id}"', "entities.partners.item_path: only an entity of a rest source"),
    ],
)
def test_a_rest_key_on_a_sql_entity_is_one_line(tmp_path: Path, added: str, expected: str) -> None:
    found = problems(tmp_path, ERP.replace("lookback_s = 60", f"lookback_s = 60\n{added}"))
    assert len(found) == 1 and found[0].startswith(expected), found
    child = ERP.replace('name = "invoice_lines"', 'name = "invoice_lines"\nfield = "lines"')
    assert problems(tmp_path, child) == [
        "entities.invoices.child.field: only a child of a rest source takes it (use table)"
    ]


def test_several_rest_mistakes_are_named_in_one_pass(tmp_path: Path, shop: str) -> None:
    broken = (
        shop.replace('kind = "link_header"', 'kind = "offset"')
        .replace('"orders/{id}"', '"orders/{code}"')
        .replace("rate_limit_per_s = 5", "rate_limit_per_s = -1")
    )
    found = problems(tmp_path, broken)
    assert len(found) == 5, found  # offset's three keys, item_path, rate_limit_per_s
    assert sum(line.startswith("entities.customers.pagination.") for line in found) == 3


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
    text = _with_auth(shop, auth.replace("SECRET_FILE", str(secret)))
    made = _made_sources(monkeypatch)
    settings = load(tmp_path, text)
    assert TOKEN not in repr(settings)  # only where the secret is, never the secret
    entity_sources(settings)["customers"][1]()
    spec, entities = made[0]
    assert spec.auth == expected
    assert list(entities) == ["customers"]


def test_a_missing_secret_names_its_key_and_shows_no_secret(
    tmp_path: Path, shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    unset = _with_auth(shop, '{ kind = "bearer", token_env = "SHOP_TOKEN" }')
    with pytest.raises(ConfigError, match=r"sources\.shop\.auth\.token_env: .*SHOP_TOKEN is not"):
        entity_sources(load(tmp_path, unset))
    (tmp_path / "shop.token").unlink()
    with pytest.raises(ConfigError, match=r"sources\.shop\.auth\.token_file .*shop\.token"):
        entity_sources(load(tmp_path, shop))


def test_the_command_line_says_it_in_one_line_and_exit_2(
    tmp_path: Path, shop: str, cli_env: dict[str, str], data_dir: Path
) -> None:
    config = _write(tmp_path, shop.replace('kind = "link_header"', 'kind = "scroll"'))
    for command in (["sources", "check"], ["status"]):
        result = cli(cli_env, "--config", str(config), *command)
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr and TOKEN not in result.stdout + result.stderr
        assert result.stderr.count("entities.customers.pagination.kind: Invalid enum") == 1
        assert len(result.stderr.strip().splitlines()) == 2, result.stderr  # heading, line
    unset = _with_auth(shop, '{ kind = "bearer", token_env = "SHOP_TOKEN" }')
    result = cli(cli_env, "--config", str(_write(tmp_path, unset)), "sources", "check")
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


def _with_auth(shop: str, auth: str) -> str:
    start = shop.index("auth = {")
    return shop[:start] + "auth = " + auth + shop[shop.index("\n", start) :]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncdeck.toml"
    path.write_text(text, encoding="utf-8")
    return path
