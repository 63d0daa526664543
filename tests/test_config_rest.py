"""`[sources.NAME] kind = "rest"` and its entities: the issue's configuration loads and maps
to what the rest source reads; every mistake is exactly one line naming its key; a sql
source's entities keep their fingerprint. (Secrets, the command line and `sources check`:
`test_config_rest_runtime.py`.)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.shopconfig import ERP, load, problems, shop_config

from core.entities import SYNC_KEY, SYNC_PARENT
from core.runtime.entities import entity_specs, rest_mapping
from core.sources.rest.mapping import Incremental, Pagination, RestColumn, RestEntity


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SYNCDECK_") or key.startswith("SHOP_"):
            monkeypatch.delenv(key)


@pytest.fixture
def shop(tmp_path: Path) -> str:
    """The issue's configuration, its token in a file of this test's."""
    return shop_config(tmp_path)


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
