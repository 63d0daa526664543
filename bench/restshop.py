"""The shop bench/restsource.py reads from json-server: its customers (generated, seeded),
the 0.1% of them changed before the incremental, and the configuration syncdeck reads them
with, as an operator would write it in syncdeck.toml.

A customer is shaped like tests/support/restshop.py's `customer()`, a real API's record: an
integer `id`, a `name`, a nested `contact.email` (`map = { email = "contact.email" }`), a
decimal `credit` as a JSON number with two decimals at most (whole cents; read exactly, as
a Decimal), a `lines` array of 0 to 2 lines (`n`, `sku`, a decimal `qty`; the child table
`customer_lines`) and a fixed-width UTC `updated_at` (`2024-03-05T06:07:08.123456Z`: its
text order is its time order, which is how json-server's `_gte` compares). The
`updated_at`s are random over about 347 days of 2024; the RNG is seeded, so every run
serves the same records.

The change: a seeded sample of 0.1% of the ids gets a new name and an `updated_at` an hour
after the latest of all (`CHANGED_STAMP`), through json-server's own API (PATCH).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from datadir import write_config_text

from core.config import Settings
from core.entities import EntitySpec
from core.runtime.entities import entity_specs

ENTITY = "customers"
CHILD = "customer_lines"
PAGE = 1000
"""Records per page (`_limit`), and syncdeck's `[sync] batch_size`."""
RECORD_SEED = 20
SAMPLE_SEED = 21
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_S = 30_000_000
CHANGED_SHARE = 0.001

Record = dict[str, Any]


def stamp(moment: datetime) -> str:
    """Fixed-width UTC text, as the replica holds a timestamp."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


CHANGED_STAMP = stamp(START + timedelta(seconds=SPAN_S, hours=1))
"""Later than every generated `updated_at`."""


def customers(n: int) -> list[Record]:
    """Customers 1..n, the same ones for the same n."""
    rng = random.Random(RECORD_SEED)
    span_us = SPAN_S * 1_000_000
    out = []
    for i in range(1, n + 1):
        out.append(
            {
                "id": i,
                "name": f"Customer {i} {rng.choice(NAMES)}",
                "contact": {"email": f"c{i}@shop.example", "phone": f"+39 02 {i:07d}"},
                "credit": rng.randrange(10_000_000) / 100,
                "lines": [
                    {
                        "n": k,
                        "sku": f"SKU-{rng.randrange(10_000):04d}",
                        "qty": rng.randrange(1, 200) / 2,
                    }
                    for k in range(rng.randrange(3))
                ],
                "updated_at": stamp(START + timedelta(microseconds=rng.randrange(span_us))),
            }
        )
    return out


NAMES = ("Rossi", "Bianchi", "Ferrari", "Esposito", "Romano", "Colombo", "Ricci", "Marino")


def db_text(records: list[Record]) -> str:
    """json-server's db.json."""
    return json.dumps({ENTITY: records}, separators=(",", ":"))


def changed_ids(n: int) -> list[int]:
    """The ids the change touches: 0.1% of 1..n (at least one), a seeded sample."""
    count = max(1, round(n * CHANGED_SHARE))
    return sorted(random.Random(SAMPLE_SEED).sample(range(1, n + 1), count))


def changed_name(i: int) -> str:
    return f"Customer {i} renamed"


def changes(i: int) -> Record:
    """The PATCH body of a changed customer."""
    return {"name": changed_name(i), "updated_at": CHANGED_STAMP}


Row = tuple[int, str, str | None, Decimal, str]
"""A customer as the replica should hold it: id, name, email, credit, updated_at."""


def expected_rows(records: list[Record], changed: list[int]) -> dict[int, Row]:
    """Every customer as the replica should hold it after the change (`Decimal(repr(x))`:
    the number as json-server writes it, read exactly)."""
    rows = {
        r["id"]: (r["id"], r["name"], r["contact"]["email"], _exact(r["credit"]), r["updated_at"])
        for r in records
    }
    for i in changed:
        rows[i] = (i, changed_name(i), *rows[i][2:4], CHANGED_STAMP)
    return rows


def expected_lines(records: list[Record]) -> set[tuple[int, int, str, Decimal]]:
    return {(r["id"], x["n"], x["sku"], _exact(x["qty"])) for r in records for x in r["lines"]}


def _exact(number: float) -> Decimal:
    return Decimal(repr(number))


def config_text(url: str) -> str:
    """syncdeck.toml: the shop as a rest source, its customers (and their lines) as an
    entity paged through the `Link` header by an immutable key."""
    return f"""\
[entities]
builtin = false

[sync]
batch_size = {PAGE}

[sources.shop]
kind = "rest"
base_url = "{url}"

[entities.{ENTITY}]
source = "shop"
path = "customers"
key = "id"
cursor = "updated_at"
columns = {{ id = "integer", name = "text", email = "text", credit = "decimal", \
updated_at = "timestamp" }}
map = {{ email = "contact.email" }}
params = {{ _sort = "id", _order = "asc", _page = "1", _limit = "{PAGE}" }}
pagination = {{ kind = "link_header" }}
incremental = {{ param = "updated_at_gte", inclusive = true }}

[entities.{ENTITY}.child]
name = "{CHILD}"
field = "lines"
parent = "customer_id"
key = ["customer_id", "n"]
columns = {{ customer_id = "integer", n = "integer", sku = "text", qty = "decimal" }}
"""


def write_config(url: str, data_dir: Path) -> Path:
    return write_config_text(data_dir, config_text(url))


def entity_spec(settings: Settings) -> EntitySpec:
    return entity_specs(settings)[ENTITY]
