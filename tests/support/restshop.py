"""A shop's customers on json-server, as the REST source's end-to-end tests read them.

`customers(ids)` makes records shaped like a real API's: a nested contact (`map = {
email = "contact.email" }`), a decimal credit as a JSON number, lines in an array (a
child table), a fixed-width UTC `updated_at`. `shop_entity(kind)` is the
`[entities.customers]` that reads them with one of json-server's pagination kinds.

The comparison reads both sides without syncdeck's code: json-server's records with a
plain GET (numbers parsed as `Decimal`), the replica with sqlite3, each normalised to
the same tuples here. A `Writer` thread changes records while syncs run.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import urllib.request
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from support.erpsync import replica_rows
from support.jsonserver import JsonServer, JsonServerError, Record, utc_stamp

Row = tuple[Any, ...]

PAGE = 40
BY_ID = {"_sort": "id", "_order": "asc"}
"""Positional kinds page by an immutable key, so that an update never moves a row across
a page boundary (the README says why). Not `sort`: that would claim cursor order."""
PAGINATION: dict[str, dict[str, Any]] = {
    "link_header": {"kind": "link_header"},
    "page": {"kind": "page", "param": "_page", "size_param": "_limit", "size": PAGE},
    "offset": {"kind": "offset", "param": "_start", "limit_param": "_limit", "limit": PAGE},
}


def customer(i: int, version: int = 0, at: datetime | None = None) -> Record:
    """Customer `i` at `version`, changed `at` (now by default)."""
    return {
        "id": i,
        "name": f"Customer {i} v{version}",
        "contact": {"email": f"c{i}.v{version}@shop.example"},
        "credit": float(Decimal(f"{i}.{version % 100:02d}")),
        "lines": [{"n": n, "sku": f"SKU-{i}-{n}", "qty": n + 0.5} for n in range(i % 3)],
        "updated_at": utc_stamp(at),
    }


def shop_entity(kind: str, *, item_path: bool = False) -> dict[str, Any]:
    """`[entities.customers]` reading json-server's `customers` with pagination `kind`."""
    entity: dict[str, Any] = {
        "source": "shop",
        "path": "customers",
        "key": "id",
        "cursor": "updated_at",
        "columns": {
            "id": "integer",
            "name": "text",
            "email": "text",
            "credit": "decimal",
            "updated_at": "timestamp",
        },
        "map": {"email": "contact.email"},
        "params": {
            **BY_ID,
            **({"_page": "1", "_limit": str(PAGE)} if kind == "link_header" else {}),
        },
        "pagination": PAGINATION[kind],
        "incremental": {"param": "updated_at_gte", "inclusive": True},
        "child": {
            "name": "customer_lines",
            "field": "lines",
            "parent": "customer_id",
            "key": ["customer_id", "n"],
            "columns": {"customer_id": "integer", "n": "integer", "sku": "text", "qty": "decimal"},
        },
    }
    if item_path:
        entity["item_path"] = "customers/{id}"
    return entity


def rest_source(url: str) -> dict[str, Any]:
    return {"kind": "rest", "base_url": url, "timeout_s": 10}


def source_rows(server: JsonServer) -> tuple[set[Row], set[Row]]:
    """json-server's customers and their lines, numbers read as `Decimal`."""
    with urllib.request.urlopen(server.url + "customers", timeout=30) as response:
        records = json.loads(response.read(), parse_float=Decimal)
    customers = {
        (r["id"], r["name"], r["contact"]["email"], _number(r["credit"]), r["updated_at"])
        for r in records
    }
    lines = {
        (r["id"], line["n"], line["sku"], _number(line["qty"]))
        for r in records
        for line in r["lines"]
    }
    return customers, lines


def replica(data_dir: Path) -> tuple[set[Row], set[Row]]:
    """The replica's live customers and the lines of live customers."""
    customers = replica_rows(
        data_dir, "customers", "id, name, email, credit, updated_at", "WHERE deleted_at IS NULL"
    )
    lines = replica_rows(
        data_dir,
        "customer_lines l JOIN customers c ON c.sync_key = l.sync_parent",
        "l.customer_id, l.n, l.sku, l.qty",
        "WHERE c.deleted_at IS NULL",
    )
    return (
        {(r[0], r[1], r[2], _number(Decimal(r[3])), r[4]) for r in customers},
        {(r[0], r[1], r[2], _number(Decimal(r[3]))) for r in lines},
    )


def _number(value: Decimal | int) -> str:
    return format(Decimal(value).normalize(), "f")


def differences(source: set[Row], replica: set[Row]) -> str:
    src, rep = {r[0]: r for r in source}, {r[0]: r for r in replica}
    missing = sorted(src.keys() - rep.keys())[:5]
    extra = sorted(rep.keys() - src.keys())[:5]
    changed = [f"{src[k]} / {rep[k]}" for k in sorted(src.keys() & rep.keys()) if src[k] != rep[k]]
    return f"missing {missing}, extra {extra}, different {changed[:3]}"


class Writer(threading.Thread):
    """Changes customers until stopped: updates (a new version, a new `updated_at`),
    creates (ids above every seeded one) and, when `deletes`, deletes, at random."""

    def __init__(self, server: JsonServer, ids: list[int], *, deletes: bool, seed: int) -> None:
        super().__init__(daemon=True, name="rest-writer")
        self.server, self.ids, self.deletes = server, list(ids), deletes
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.changes = 0
        self.next_id = max(ids) + 1
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.wait(0.01):
                self.change()
        except BaseException as exc:
            self.failure = exc

    def change(self) -> None:
        roll = self.random.random()
        if roll < 0.6 and self.ids:
            i = self.random.choice(self.ids)
            version = self.random.randrange(1, 99)
            record = customer(i, version)
            del record["id"]
            self.server.update("customers", i, record)
        elif roll < 0.8 or not self.deletes:
            self.server.create("customers", customer(self.next_id))
            self.ids.append(self.next_id)
            self.next_id += 1
        else:
            i = self.ids.pop(self.random.randrange(len(self.ids)))
            with contextlib.suppress(JsonServerError):  # already gone
                self.server.delete("customers", i)
        self.changes += 1

    def finish(self) -> int:
        self.stop.set()
        self.join(timeout=30)
        if self.failure is not None:
            raise self.failure
        return self.changes
