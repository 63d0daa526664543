"""The configuration the REST configuration tests share: the issue's `[sources.shop]`
(`SHOP`, its token in a file of the test's), a sql source (`ERP`), and the helpers that
write, load and read the problems of a configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import ConfigError, Settings, load_settings

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


def shop_config(tmp_path: Path) -> str:
    """`SHOP`, its token in `tmp_path`/shop.token (owner only)."""
    token = tmp_path / "shop.token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    token.chmod(0o600)
    return SHOP.replace("TOKEN_FILE", str(token))


def load(tmp_path: Path, text: str) -> Settings:
    return load_settings(write(tmp_path, text), tmp_path / "data")


def problems(tmp_path: Path, text: str) -> list[str]:
    """The lines of the ConfigError that loading `text` raises, its heading left out."""
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("invalid configuration")
    return [line.strip() for line in lines[1:]]


def with_auth(shop: str, auth: str) -> str:
    """`shop` with its `auth = {...}` line replaced by `auth = <auth>`."""
    start = shop.index("auth = {")
    return shop[:start] + "auth = " + auth + shop[shop.index("\n", start) :]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncdeck.toml"
    path.write_text(text, encoding="utf-8")
    return path
